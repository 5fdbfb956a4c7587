// Health benchmark (issue 3):
//  1. Deadline to restart: instances print one line and go silent under
//     `log_max_age: 1s`; each restart's lateness is the new instance's first
//     instruction minus (the old one's first instruction + 1s). The old
//     instance prints at once, so its log deadline is within microseconds of
//     old start + 1s. Includes detection, SIGTERM, exit, respawn, exec.
//  2. CPU cost: fleetd's CPU with 1000 instances checked every second, against
//     the same fleet without health checks.
//
// Usage: bazel run -c opt //tools/bench:health_bench
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/os/files.h"
#include "tools/bench/bench_util.h"

namespace {

using namespace fleet::bench;  // NOLINT: a benchmark main

std::string MakeDir() {
  char tmpl[] = "/tmp/fleet-hbench.XXXXXX";
  return mkdtemp(tmpl);
}

void WriteConfig(const std::string& dir, int n, const std::string& health, bool print) {
  (void)fleet::os::WriteFileAtomic(
      dir + "/fleet.yaml",
      absl::StrCat("name: hbench\nrun_dir: run\nengines:\n  - name: s\n    command: [\"",
                   Runfiles(), "tools/bench/bench_child\"]\n    replicas: ", n,
                   "\n    min_uptime: 0\n    backoff: {initial: 0}\n"
                   "    crash_loop: {max_failures: 0}\n    env: {BENCH_DIR: \"",
                   dir, "\"", print ? ", BENCH_PRINT: \"1\"" : "", "}\n", health));
}

void DeadlineToRestart(int n, int seconds) {
  std::string dir = MakeDir();
  WriteConfig(dir, n, "    health: {log_max_age: 1s}\n", true);
  pid_t fleetd = StartFleetd(dir);
  std::map<int, Start> last;
  std::vector<double> late_ms;
  int64_t end = MonoNs() + seconds * 1000000000LL;
  while (MonoNs() < end) {
    for (int i = 0; i < n; ++i) {
      std::optional<Start> s = ReadStart(dir, i);
      if (!s.has_value()) continue;
      auto it = last.find(i);
      if (it != last.end() && it->second.pid != s->pid) {
        late_ms.push_back((s->ns - (it->second.ns + 1000000000LL)) / 1e6);
      }
      last[i] = *s;
    }
    SleepUs(2000);
  }
  StopFleetd(dir, fleetd);
  printf(
      "deadline -> restart (log_max_age 1s, %d instances, %zu restarts): p50 %.1f ms, "
      "p95 %.1f ms, max %.1f ms\n",
      n, late_ms.size(), Percentile(late_ms, 0.5), Percentile(late_ms, 0.95),
      Percentile(late_ms, 1.0));
  Run({"rm", "-rf", dir});
}

double FleetdCpuPercent(int n, bool health, int seconds) {
  std::string dir = MakeDir();
  WriteConfig(dir, n, health ? "    health: {log_max_age: 1h, period: 1s}\n" : "", false);
  pid_t fleetd = StartFleetd(dir);
  for (int i = 0; i < n; ++i) {
    while (!ReadStart(dir, i).has_value()) SleepUs(1000);
  }
  sleep(3);  // Past startup and the first round of checks.
  long before = CpuTicks(fleetd);
  sleep(seconds);
  long after = CpuTicks(fleetd);
  StopFleetd(dir, fleetd);
  Run({"rm", "-rf", dir});
  return 100.0 * (after - before) / sysconf(_SC_CLK_TCK) / seconds;
}

}  // namespace

int main() {
  DeadlineToRestart(20, 12);
  double with = FleetdCpuPercent(1000, true, 10);
  double without = FleetdCpuPercent(1000, false, 10);
  printf("fleetd CPU, 1000 instances: %.2f%% with health checks every 1s, %.2f%% without\n", with,
         without);
}
