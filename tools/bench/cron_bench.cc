// Scheduling benchmark (issue 6): N cron engines on `@every 1s` (default
// 100) running /bin/true; prints the scheduling jitter (a run's start minus
// its slot, both wall clock, from the run history) and fleetd's CPU while
// they run.
//
// Usage: bazel run -c opt //tools/bench:cron_bench -- [N] [--seconds S]
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/os/files.h"
#include "google/protobuf/util/json_util.h"
#include "proto/fleet/control/v1/control.pb.h"
#include "tools/bench/bench_util.h"

namespace {

using namespace fleet::bench;  // NOLINT: a benchmark main

// start - slot (ms) of every scheduled run recorded under run_dir/runs.
std::vector<double> Jitters(const std::string& runs_dir) {
  std::vector<double> out;
  DIR* d = opendir(runs_dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::ifstream in(runs_dir + "/" + e->d_name);
    std::string line;
    while (std::getline(in, line)) {
      fleet::control::v1::RunRecord r;
      if (!google::protobuf::util::JsonStringToMessage(line, &r).ok()) continue;
      if (r.trigger() != "schedule" || r.slot_unix_ms() == 0) continue;
      out.push_back(static_cast<double>(r.started_unix_ms() - r.slot_unix_ms()));
    }
  }
  closedir(d);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int n = 100, seconds = 20;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--seconds" && i + 1 < argc) {
      seconds = atoi(argv[++i]);
    } else {
      n = atoi(argv[i]);
    }
  }
  char tmpl[] = "/tmp/fleet-bench.XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  std::string engines;
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&engines, "  - {name: c", i,
                    ", type: cron, schedule: '@every 1s', command: [/bin/true]}\n");
  }
  (void)fleet::os::WriteFileAtomic(dir + "/fleet.yaml",
                                   absl::StrCat("name: bench\nrun_dir: run\nengines:\n", engines));
  const pid_t fleetd = StartFleetd(dir);
  sleep(3);  // Every engine planned and running its first slots.
  const long cpu0 = CpuTicks(fleetd);
  const int64_t t0 = MonoNs();
  sleep(seconds);
  const double wall_s = (MonoNs() - t0) / 1e9;
  const double cpu = 100.0 * (CpuTicks(fleetd) - cpu0) / sysconf(_SC_CLK_TCK) / wall_s;
  StopFleetd(dir, fleetd);
  std::vector<double> jitter = Jitters(dir + "/run/runs");
  printf("fleet cron benchmark: %d engines on @every 1s, %ds measured\n", n, seconds);
  printf("%8s  %8s  %8s  %8s  %8s  %8s\n", "runs", "p50_ms", "p99_ms", "max_ms", "min_ms", "cpu%");
  printf("%8zu  %8.1f  %8.1f  %8.1f  %8.1f  %8.1f\n", jitter.size(), Percentile(jitter, 0.5),
         Percentile(jitter, 0.99), Percentile(jitter, 1.0), Percentile(jitter, 0.0), cpu);
  Run({"rm", "-rf", dir});
}
