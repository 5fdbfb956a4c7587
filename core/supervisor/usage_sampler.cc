#include "core/supervisor/usage_sampler.h"

#include <unistd.h>

#include <optional>
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

}  // namespace

void UsageSampler::Fill(ctl::GetStatusResponse* status, os::MonoTime now) {
  static const double kTicksPerSecond = static_cast<double>(::sysconf(_SC_CLK_TCK));
  fleet::MutexLock lock(&mu_);
  absl::flat_hash_set<std::string> seen;
  for (ctl::EngineStatus& engine : *status->mutable_engines()) {
    for (ctl::InstanceStatus& inst : *engine.mutable_instances()) {
      if (inst.pid() <= 0) continue;
      std::vector<pid_t> pids;
      if (!inst.cgroup().empty()) pids = os::CgroupPids(inst.cgroup());
      if (pids.empty()) pids = {inst.pid()};
      uint64_t ticks = 0, rss = 0;
      for (pid_t pid : pids) {
        if (std::optional<os::ProcessUsage> u = os::ReadProcessUsage(pid)) {
          ticks += u->cpu_ticks;
          rss += u->rss_bytes;
        }
      }
      seen.insert(inst.id());
      auto it = last_.find(inst.id());
      if (it != last_.end() && it->second.pid != inst.pid()) {
        last_.erase(it);  // A new run: its CPU counts from its start.
        it = last_.end();
      }
      if (it == last_.end() || now - it->second.at >= kShortestInterval) {
        const bool first = it == last_.end();
        const os::MonoTime since =
            first ? now - absl::Milliseconds(inst.uptime_ms()) : it->second.at;
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
      inst.set_rss_bytes(rss);
    }
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
