// The supervision loop during a work-bus run (issue 16): fleetd with W
// worker engines (shell loops over `fleetctl bus claim`/`complete`, the
// file protocol) runs a DAG of N independent tasks. The conductor and its
// fsyncs live on the bus's own thread; this prints what the loop's passes
// took meanwhile (from DaemonStatus.loop_pass_buckets, before and after),
// and the run's throughput.
//
// Usage: bazel run -c opt //tools/bench:bus_loop_bench -- [N] [--workers W]
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/os/files.h"
#include "tools/bench/bench_util.h"

namespace {

using namespace fleet::bench;  // NOLINT: a benchmark main

}  // namespace

int main(int argc, char** argv) {
  int tasks = 5000, workers = 4;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--workers" && i + 1 < argc) {
      workers = atoi(argv[++i]);
    } else {
      tasks = atoi(argv[i]);
    }
  }
  char tmpl[] = "/tmp/fleet-bench.XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string run_dir = dir + "/run";
  const std::string fleetctl = Runfiles() + "cli/fleetctl";
  (void)fleet::os::WriteFileAtomic(
      dir + "/fleet.yaml",
      absl::StrCat("name: bench\nrun_dir: run\nengines:\n  - name: w\n    replicas: ", workers,
                   "\n    capabilities: [t]\n    env: {FLEETCTL: '", fleetctl, "'}\n",
                   "    shell: |\n      while true; do\n",
                   "        task=$(\"$FLEETCTL\" bus claim --capability t) || "
                   "{ sleep 0.05; continue; }\n",
                   "        id=$(echo \"$task\" | sed -n "
                   "'s/.*\"id\": *\"\\([^\"]*\\)\".*/\\1/p')\n",
                   "        echo ok | \"$FLEETCTL\" bus complete \"$id\" --result -\n",
                   "      done\n"));
  std::string dag = "tasks:\n";
  for (int i = 0; i < tasks; ++i) absl::StrAppend(&dag, "  - {id: t", i, ", capability: t}\n");
  (void)fleet::os::WriteFileAtomic(dir + "/dag.yaml", dag);

  const pid_t fleetd = StartFleetd(dir);
  while (Run({fleetctl, "--run-dir", run_dir, "status"}) != 0) SleepUs(100000);
  const std::vector<uint64_t> before = LoopPassBuckets(run_dir);
  const int64_t t0 = MonoNs();
  Run({fleetctl, "--run-dir", run_dir, "bus", "submit", dir + "/dag.yaml", "--run", "b"});
  for (;;) {
    const std::string status =
        Output({fleetctl, "--run-dir", run_dir, "bus", "status", "b", "-o", "protojson"});
    if (absl::StrContains(status, "\"done\": true") || absl::StrContains(status, "\"done\":true")) {
      break;
    }
    SleepUs(200000);
  }
  const double wall_s = (MonoNs() - t0) / 1e9;
  const std::vector<uint64_t> after = LoopPassBuckets(run_dir);
  StopFleetd(dir, fleetd);
  uint64_t passes = 0;
  for (size_t i = 0; i < after.size(); ++i) passes += after[i] - (i < before.size() ? before[i] : 0);
  printf("fleet bus-run loop benchmark: %d independent tasks, %d shell workers (fleetctl per "
         "claim and per completion)\n",
         tasks, workers);
  printf("%8s  %8s  %8s  %10s  %10s  %10s\n", "wall_s", "tasks/s", "passes", "pass_p50", "pass_p99",
         "pass_max");
  printf("%8.1f  %8.1f  %8llu  %10.2f  %10.2f  %10.2f\n", wall_s, tasks / wall_s,
         static_cast<unsigned long long>(passes), LoopPassMs(before, after, 0.5),
         LoopPassMs(before, after, 0.99), LoopPassMs(before, after, 1.0));
  Run({"rm", "-rf", dir});
}
