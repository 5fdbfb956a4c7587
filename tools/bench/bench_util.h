// Helpers shared by fleet's benchmarks: clocks, processes, /proc readings.
#ifndef FLEET_TOOLS_BENCH_BENCH_UTIL_H_
#define FLEET_TOOLS_BENCH_BENCH_UTIL_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fleet::bench {

// <this binary>.runfiles/fleet/, with a trailing slash.
const std::string& Runfiles();
int64_t MonoNs();
void SleepUs(int64_t us);

// What bench_child recorded at its first instruction: pid and CLOCK_MONOTONIC.
struct Start {
  pid_t pid = 0;
  int64_t ns = 0;
};
std::optional<Start> ReadStart(const std::string& dir, int instance);

// The environment without FLEET_* variables.
std::vector<std::string> Env();
// Runs a command quietly; its exit code (-1 if it could not run or was killed).
int Run(const std::vector<std::string>& argv);
double Percentile(std::vector<double> v, double p);

// /proc readings of a process: a smaps_rollup line ("Rss", "Pss") in kB,
// context switches of all its threads, and utime+stime in clock ticks.
long SmapsKb(pid_t pid, const std::string& key);
long Wakeups(pid_t pid);
// The same for one thread (the supervision loop is fleetd's main thread).
long ThreadWakeups(pid_t pid, pid_t tid);
long CpuTicks(pid_t pid);

// Runs a command and returns what it printed on stdout ("" if it could not run).
std::string Output(const std::vector<std::string>& argv);

// The spawn floor: starts n bench_child (BENCH_DIR=dir, FLEET_INSTANCE=i)
// with a bare posix_spawn loop, waits until each has recorded its first
// instruction, and kills them. Milliseconds from the first spawn to the
// last first instruction; `each`, when given, gets every child's own
// (spawn loop start to its first instruction).
double SpawnFloorMs(int n, const std::string& dir, std::vector<double>* each = nullptr);

// The supervision loop's pass histogram (DaemonStatus.loop_pass_buckets)
// from `fleetctl status -o json`; empty if it could not be read.
std::vector<uint64_t> LoopPassBuckets(const std::string& run_dir);
// Of the passes counted between two readings: the q-quantile's bucket
// bound, in ms (0 if there were none).
double LoopPassMs(const std::vector<uint64_t>& before, const std::vector<uint64_t>& after,
                  double q);

// Starts fleetd on dir/fleet.yaml with its stderr in dir/fleetd.log.
pid_t StartFleetd(const std::string& dir);
// `fleetctl shutdown` and wait for fleetd to exit.
void StopFleetd(const std::string& dir, pid_t fleetd);

}  // namespace fleet::bench

#endif  // FLEET_TOOLS_BENCH_BENCH_UTIL_H_
