#include "core/supervisor/usage_sampler.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "core/os/cgroup.h"
#include "core/os/process.h"

namespace fleet::supervisor {
namespace {

namespace ctl = ::fleet::control::v1;

// Two statuses close together (a `top` refresh racing a script) keep the
// reading of the longer interval rather than a noisy one.
constexpr absl::Duration kShortestInterval = absl::Milliseconds(250);

// Below this many running instances the reads are made by the caller alone.
constexpr size_t kParallelFrom = 256;

struct Reading {
  uint64_t ticks = 0;
  uint64_t rss = 0;
};

// Every process of the run: its cgroup leaf's members, or the pid alone.
Reading Read(const ctl::InstanceStatus& inst) {
  std::vector<pid_t> pids;
  if (!inst.cgroup().empty()) pids = os::CgroupPids(inst.cgroup());
  if (pids.empty()) pids = {inst.pid()};
  Reading r;
  for (pid_t pid : pids) {
    if (std::optional<os::ProcessUsage> u = os::ReadProcessUsage(pid)) {
      r.ticks += u->cpu_ticks;
      r.rss += u->rss_bytes;
    }
  }
  return r;
}

void* RunShare(void* fn) {
  (*static_cast<std::function<void()>*>(fn))();
  return nullptr;
}

}  // namespace

void UsageSampler::Fill(ctl::GetStatusResponse* status, os::MonoTime now) {
  static const double kTicksPerSecond = static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::vector<ctl::InstanceStatus*> running;
  for (ctl::EngineStatus& engine : *status->mutable_engines()) {
    for (ctl::InstanceStatus& inst : *engine.mutable_instances()) {
      if (inst.pid() > 0) running.push_back(&inst);
    }
  }
  // A few files per instance, and the kernel answers each on the CPU that
  // asks: with many instances the machine's other cores read a share.
  std::vector<Reading> readings(running.size());
  auto read_range = [&running, &readings](size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) readings[i] = Read(*running[i]);
  };
  const size_t helpers =
      running.size() < kParallelFrom
          ? 0
          : std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), 4) - 1;
  const size_t share = running.size() / (helpers + 1);
  std::vector<std::function<void()>> shares;
  for (size_t h = 0; h < helpers; ++h) {
    shares.emplace_back([&read_range, h, share] { read_range(h * share, (h + 1) * share); });
  }
  std::vector<pthread_t> threads;
  for (std::function<void()>& fn : shares) {
    pthread_t thread;
    if (::pthread_create(&thread, nullptr, &RunShare, &fn) == 0) {
      threads.push_back(thread);
    } else {
      fn();  // No thread to be had (a pids limit): read it here.
    }
  }
  read_range(helpers * share, running.size());
  for (pthread_t thread : threads) ::pthread_join(thread, nullptr);

  fleet::MutexLock lock(&mu_);
  absl::flat_hash_set<std::string> seen;
  for (size_t i = 0; i < running.size(); ++i) {
    ctl::InstanceStatus& inst = *running[i];
    const uint64_t ticks = readings[i].ticks;
    seen.insert(inst.id());
    auto it = last_.find(inst.id());
    if (it != last_.end() && it->second.pid != inst.pid()) {
      last_.erase(it);  // A new run: its CPU counts from its start.
      it = last_.end();
    }
    if (it == last_.end() || now - it->second.at >= kShortestInterval) {
      const bool first = it == last_.end();
      const os::MonoTime since = first ? now - absl::Milliseconds(inst.uptime_ms()) : it->second.at;
      const uint64_t before = first ? 0 : it->second.ticks;
      const double seconds = absl::ToDoubleSeconds(now - since);
      // A child that ended takes its ticks along: never below zero.
      const double used =
          ticks > before ? static_cast<double>(ticks - before) / kTicksPerSecond : 0;
      Sample& s = last_[inst.id()];
      s = Sample{inst.pid(), now, ticks, seconds > 0 ? 100.0 * used / seconds : 0};
      it = last_.find(inst.id());
    }
    inst.set_cpu_percent(it->second.percent);
    inst.set_rss_bytes(readings[i].rss);
    inst.set_cpu_seconds(static_cast<double>(ticks) / kTicksPerSecond);
  }
  // Instances that no longer run (or exist) are forgotten.
  for (auto it = last_.begin(); it != last_.end();) {
    if (seen.contains(it->first)) {
      ++it;
    } else {
      last_.erase(it++);
    }
  }
}

}  // namespace fleet::supervisor
