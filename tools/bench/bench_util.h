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
long CpuTicks(pid_t pid);

// Starts fleetd on dir/fleet.yaml with its stderr in dir/fleetd.log.
pid_t StartFleetd(const std::string& dir);
// `fleetctl shutdown` and wait for fleetd to exit.
void StopFleetd(const std::string& dir, pid_t fleetd);

}  // namespace fleet::bench

#endif  // FLEET_TOOLS_BENCH_BENCH_UTIL_H_
