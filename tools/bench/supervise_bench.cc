// Supervision benchmark (issues 2 and 16): for 10, 100 and 1000 sleeping
// instances, prints
//   up_ms     time to bring all up (fleetd's start to the last instance's
//             first instruction), and floor_ms: the same for a bare
//             posix_spawn loop of as many, run just before (x: the ratio);
//   rst_*     crash-to-restart latency (SIGKILL to the new instance's first
//             instruction, restart delay 0), one kill at a time;
//   burst     N/5 (at most 200) instances killed at once: ms until all are
//             back, and the supervision loop's passes meanwhile (p99 and the
//             longest, ms: how long an event could wait for the loop);
//   fleetd RSS/PSS, idle CPU and wake-ups (all threads; loop/s: the
//   supervision loop's own), and the wall time of `fleetctl status` (table
//   and JSON);
//   scr_ms    the wall time of a scrape (`fleetctl metrics`), scr_cpu
//             fleetd's CPU ms per scrape, rst_scr the restart p50 (as
//             rst_p50) while a scraper asks without pause.
//
// Usage: bazel run -c opt //tools/bench:supervise_bench -- [N ...] [--kills K]
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/os/files.h"
#include "tools/bench/bench_util.h"

namespace {

using namespace fleet::bench;  // NOLINT: a benchmark main

double TimeCommandMs(const std::vector<std::string>& argv, int runs) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    int64_t t = MonoNs();
    Run(argv);
    ms.push_back((MonoNs() - t) / 1e6);
  }
  return Percentile(ms, 0.5);
}

void Bench(int n, int kills) {
  char tmpl[] = "/tmp/fleet-bench.XXXXXX";
  std::string dir = mkdtemp(tmpl);
  const std::string floor_dir = dir + "/floor";
  mkdir(floor_dir.c_str(), 0700);
  const double floor_ms = SpawnFloorMs(n, floor_dir);
  std::string run_dir = dir + "/run";
  std::string fleetctl = Runfiles() + "cli/fleetctl";
  (void)fleet::os::WriteFileAtomic(
      dir + "/fleet.yaml",
      absl::StrCat("name: bench\nrun_dir: run\nengines:\n  - name: s\n    command: [\"", Runfiles(),
                   "tools/bench/bench_child\"]\n    replicas: ", n,
                   "\n    min_uptime: 0\n    backoff: {initial: 0}\n"
                   "    crash_loop: {max_failures: 0}\n    env: {BENCH_DIR: \"",
                   dir, "\"}\n"));
  int64_t t0 = MonoNs();
  pid_t pid = StartFleetd(dir);

  // All up: every instance has recorded its first instruction.
  int64_t last = 0;
  for (int i = 0; i < n; ++i) {
    std::optional<Start> s;
    while (!(s = ReadStart(dir, i)).has_value()) SleepUs(500);
    last = std::max(last, s->ns);
  }
  double up_ms = (last - t0) / 1e6;
  while (Run({fleetctl, "--run-dir", run_dir, "status"}) != 0) SleepUs(10000);
  sleep(1);

  // SIGKILL to the new instance's first instruction, one kill at a time.
  auto restarts = [&](int count, int salt) {
    std::vector<double> ms;
    for (int k = 0; k < count; ++k) {
      int i = (k * 7919 + salt) % n;
      Start before = *ReadStart(dir, i);
      int64_t t = MonoNs();
      kill(before.pid, SIGKILL);
      std::optional<Start> after;
      for (;;) {
        after = ReadStart(dir, i);
        if (after.has_value() && after->pid != before.pid) break;
        SleepUs(100);
      }
      ms.push_back((after->ns - t) / 1e6);
      SleepUs(20000);
    }
    return ms;
  };
  std::vector<double> restart_ms = restarts(kills, 0);

  // A burst: many exits at once, each restarted at once.
  const int burst = std::max(1, std::min(200, n / 5));
  sleep(1);
  const std::vector<uint64_t> passes_before = LoopPassBuckets(run_dir);
  std::vector<Start> victims;
  for (int i = 0; i < burst; ++i) victims.push_back(*ReadStart(dir, i));
  const int64_t t_burst = MonoNs();
  for (const Start& v : victims) kill(v.pid, SIGKILL);
  int64_t burst_last = t_burst;
  for (int i = 0; i < burst; ++i) {
    std::optional<Start> after;
    while (!(after = ReadStart(dir, i)).has_value() || after->pid == victims[i].pid) SleepUs(500);
    burst_last = std::max(burst_last, after->ns);
  }
  const double burst_ms = (burst_last - t_burst) / 1e6;
  const std::vector<uint64_t> passes_after = LoopPassBuckets(run_dir);

  sleep(2);  // Let the restarts settle before measuring idleness.
  long rss = SmapsKb(pid, "Rss"), pss = SmapsKb(pid, "Pss");
  long wake0 = Wakeups(pid), cpu0 = CpuTicks(pid), loop0 = ThreadWakeups(pid, pid);
  const int idle_s = 5;
  sleep(idle_s);
  long wake1 = Wakeups(pid), cpu1 = CpuTicks(pid), loop1 = ThreadWakeups(pid, pid);
  double idle_cpu = 100.0 * (cpu1 - cpu0) / sysconf(_SC_CLK_TCK) / idle_s;
  double wakeups = static_cast<double>(wake1 - wake0) / idle_s;
  double loop_wakeups = static_cast<double>(loop1 - loop0) / idle_s;

  double status_ms = TimeCommandMs({fleetctl, "--run-dir", run_dir, "status"}, 20);
  double json_ms = TimeCommandMs({fleetctl, "--run-dir", run_dir, "status", "-o", "json"}, 20);
  // A scrape (`fleetctl metrics`, what /metrics renders): its wall time,
  // fleetd's CPU for it, and restarts while a scraper asks without pause.
  const long scrape_cpu0 = CpuTicks(pid);
  const int scrapes = 10;
  double scrape_ms = TimeCommandMs({fleetctl, "--run-dir", run_dir, "metrics"}, scrapes);
  double scrape_cpu_ms = 1000.0 * (CpuTicks(pid) - scrape_cpu0) / sysconf(_SC_CLK_TCK) / scrapes;
  pid_t scraper = fork();
  if (scraper == 0) {
    setpgid(0, 0);
    const std::string loop = absl::StrCat("while :; do '", fleetctl, "' --run-dir '", run_dir,
                                          "' metrics >/dev/null; done");
    execl("/bin/sh", "sh", "-c", loop.c_str(), nullptr);
    _exit(127);
  }
  std::vector<double> scraped_restart_ms = restarts(std::max(5, kills / 2), 17);
  kill(-scraper, SIGKILL);
  kill(scraper, SIGKILL);
  waitpid(scraper, nullptr, 0);

  int64_t t_stop = MonoNs();
  StopFleetd(dir, pid);
  double stop_ms = (MonoNs() - t_stop) / 1e6;

  printf(
      "%6d  %8.1f  %8.1f  %5.2f  %8.2f  %8.2f  %5d  %8.1f  %8.2f  %8.2f  %7.1f  %7.1f  %7.2f  "
      "%7.2f  %7.2f  %8.1f  %8.1f  %8.1f  %8.1f  %8.1f  %8.2f\n",
      n, up_ms, floor_ms, up_ms / floor_ms, Percentile(restart_ms, 0.5),
      Percentile(restart_ms, 0.95), burst, burst_ms, LoopPassMs(passes_before, passes_after, 0.99),
      LoopPassMs(passes_before, passes_after, 1.0), rss / 1024.0, pss / 1024.0, idle_cpu, wakeups,
      loop_wakeups, status_ms, json_ms, stop_ms, scrape_ms, scrape_cpu_ms,
      Percentile(scraped_restart_ms, 0.5));
  fflush(stdout);
  Run({"rm", "-rf", dir});
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  int kills = 40;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--kills" && i + 1 < argc) {
      kills = atoi(argv[++i]);
    } else {
      sizes.push_back(atoi(argv[i]));
    }
  }
  if (sizes.empty()) sizes = {10, 100, 1000};
  printf("fleet supervise benchmark: %d kills per size, restart delay 0, idle window 5s\n", kills);
  printf(
      "%6s  %8s  %8s  %5s  %8s  %8s  %5s  %8s  %8s  %8s  %7s  %7s  %7s  %7s  %7s  %8s  %8s  %8s  "
      "%8s  %8s  %8s\n",
      "N", "up_ms", "floor_ms", "x", "rst_p50", "rst_p95", "burst", "brst_ms", "pass_p99",
      "pass_max", "rss_MB", "pss_MB", "idle%", "wake/s", "loop/s", "st_ms", "json_ms", "stop_ms",
      "scr_ms", "scr_cpu", "rst_scr");
  for (int n : sizes) Bench(n, kills);
}
