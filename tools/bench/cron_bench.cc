// Scheduling benchmark (issues 6 and 16): N cron engines (default 100) due
// in the same second, every minute (`* * * * *`, so they stay in phase),
// running /bin/true. Prints the start jitter (a run's start, when fleetd
// holds its pid, minus its slot; from the run history) and fleetd's CPU,
// beside the floor measured in the same run: N posix_spawns of /bin/true
// issued at once by a bare loop, each one's pid known that long after the
// first was asked for.
//
// Usage: bazel run -c opt //tools/bench:cron_bench -- [N] [--minutes M]
#include <dirent.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
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

// The floor: n posix_spawns of /bin/true in a row; ms from the first
// call to each pid.
std::vector<double> SpawnLoopMs(int n) {
  char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
  char* envp[] = {nullptr};
  std::vector<double> out;
  std::vector<pid_t> pids;
  const int64_t t0 = MonoNs();
  for (int i = 0; i < n; ++i) {
    pid_t pid;
    if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, envp) != 0) continue;
    out.push_back((MonoNs() - t0) / 1e6);
    pids.push_back(pid);
  }
  for (pid_t pid : pids) waitpid(pid, nullptr, 0);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int n = 100, minutes = 2;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--minutes" && i + 1 < argc) {
      minutes = atoi(argv[++i]);
    } else {
      n = atoi(argv[i]);
    }
  }
  char tmpl[] = "/tmp/fleet-bench.XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  std::string engines;
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&engines, "  - {name: c", i,
                    ", type: cron, schedule: '* * * * *', command: [/bin/true]}\n");
  }
  (void)fleet::os::WriteFileAtomic(dir + "/fleet.yaml",
                                   absl::StrCat("name: bench\nrun_dir: run\nengines:\n", engines));
  const pid_t fleetd = StartFleetd(dir);
  sleep(2);
  const long cpu0 = CpuTicks(fleetd);
  const int64_t t0 = MonoNs();
  // Until `minutes` minute boundaries have passed, and 5 s more.
  const int64_t now_s = time(nullptr);
  sleep(static_cast<unsigned>(60 - now_s % 60 + 60 * (minutes - 1) + 5));
  const double wall_s = (MonoNs() - t0) / 1e9;
  const double cpu = 100.0 * (CpuTicks(fleetd) - cpu0) / sysconf(_SC_CLK_TCK) / wall_s;
  StopFleetd(dir, fleetd);
  std::vector<double> jitter = Jitters(dir + "/run/runs");
  std::vector<double> floor = SpawnLoopMs(n);
  printf("fleet cron benchmark: %d engines on '* * * * *' (due in the same second), %d slot%s\n", n,
         minutes, minutes == 1 ? "" : "s");
  printf("%-22s  %6s  %8s  %8s  %8s  %6s\n", "", "runs", "p50_ms", "p99_ms", "max_ms", "cpu%");
  printf("%-22s  %6zu  %8.1f  %8.1f  %8.1f  %6.1f\n", "fleet (slot -> pid)", jitter.size(),
         Percentile(jitter, 0.5), Percentile(jitter, 0.99), Percentile(jitter, 1.0), cpu);
  printf("%-22s  %6zu  %8.1f  %8.1f  %8.1f\n", "floor (posix_spawn loop)", floor.size(),
         Percentile(floor, 0.5), Percentile(floor, 0.99), Percentile(floor, 1.0));
  printf("p99 ratio to the floor: %.2f\n", Percentile(jitter, 0.99) / Percentile(floor, 0.99));
  Run({"rm", "-rf", dir});
}
