// Sync benchmark (issue 4), on the sync plugin's library against a bare
// repository on this machine: pull latency with nothing new and after a small
// change, and commits pushed per second by 1, 5 and 20 concurrent writers
// (each its own work tree, one file each, plus the push-lock wait they saw).
//
// Usage: bazel build -c opt //tools/bench:sync_bench && bazel-bin/tools/bench/sync_bench
#include <git2.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "plugins/sync/publish.h"
#include "plugins/sync/repo.h"
#include "tools/bench/bench_util.h"

namespace {

using namespace fleet::plugins::sync;  // NOLINT: a benchmark main
using fleet::bench::MonoNs;
using fleet::bench::Percentile;

std::string MakeRemote(std::string* dir) {
  char tmpl[] = "/tmp/fleet-sbench.XXXXXX";
  *dir = mkdtemp(tmpl);
  git_libgit2_init();
  git_repository* bare = nullptr;
  git_repository_init(&bare, (*dir + "/remote.git").c_str(), 1);
  git_repository_free(bare);
  return *dir + "/remote.git";
}

void PullLatency() {
  std::string dir;
  const std::string remote = MakeRemote(&dir);
  GitStatus status;
  auto writer = Repo::OpenOrClone(dir + "/w", remote, "main", &status);
  auto reader = Repo::OpenOrClone(dir + "/r", remote, "main", &status);
  std::vector<double> idle, small;
  for (int i = 0; i < 50; ++i) {
    std::ofstream(dir + "/w/state.json") << "{\"n\": " << i << "}\n";
    PublishResult p = Publish(*writer, {"w", "w@fleet", "change", 8, nullptr});
    if (!p.pushed) return (void)printf("publish failed: %s\n", p.error.c_str());
    PullResult pulled;
    int64_t t = MonoNs();
    reader->Pull(&pulled);
    small.push_back((MonoNs() - t) / 1e6);
    t = MonoNs();
    reader->Pull(&pulled);
    idle.push_back((MonoNs() - t) / 1e6);
  }
  printf(
      "pull, nothing new: p50 %.2f ms, p95 %.2f ms; after a small change: p50 %.2f ms, "
      "p95 %.2f ms\n",
      Percentile(idle, 0.5), Percentile(idle, 0.95), Percentile(small, 0.5),
      Percentile(small, 0.95));
  std::filesystem::remove_all(dir);
}

// fleet_lock: the writers share one lock from commit to push, as fleetd's
// instances do (they catch up and push in turn); else they race and retry.
void Throughput(int writers, int seconds, bool fleet_lock) {
  std::string dir;
  const std::string remote = MakeRemote(&dir);
  std::atomic<int> commits{0};
  std::atomic<int> attempts{0};
  std::atomic<bool> stop{false};
  std::vector<double> lock_wait(writers);
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      GitStatus status;
      const std::string tree = dir + "/w" + std::to_string(w);
      auto repo = Repo::OpenOrClone(tree, remote, "main", &status);
      if (repo == nullptr) return;
      for (int n = 0; !stop; ++n) {
        std::ofstream(tree + "/w" + std::to_string(w) + ".json") << "{\"n\": " << n << "}\n";
        PublishOptions options{"w", "w@fleet", "n", 1000, nullptr};
        if (fleet_lock) options.lock_path = dir + "/fleet-push.flock";
        PublishResult p = Publish(*repo, options);
        if (!p.pushed) return;
        ++commits;
        attempts += p.attempts;
        lock_wait[w] += p.lock_wait_ms;
      }
      lock_wait[w] += repo->push_lock_wait_ms();
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (std::thread& t : threads) t.join();
  double wait = 0;
  for (double w : lock_wait) wait += w;
  const int n = commits.load();
  printf(
      "%2d writers, %s: %6.1f commits pushed/s, %.2f pushes per commit, lock wait %.1f ms "
      "per commit\n",
      writers, fleet_lock ? "fleet lock" : "racing   ", n / static_cast<double>(seconds),
      n > 0 ? attempts.load() / static_cast<double>(n) : 0.0, n > 0 ? wait / n : 0.0);
  std::filesystem::remove_all(dir);
}

}  // namespace

int main() {
  PullLatency();
  for (bool fleet_lock : {false, true}) {
    for (int writers : {1, 5, 20}) Throughput(writers, 6, fleet_lock);
  }
}
