// Recovery benchmark (issue 5): how long fleetd takes, after it was killed
// with SIGKILL and started again, to take back every running instance (100
// and 1000 of them), and how long a clobbered protected file stays
// clobbered before it is put back.
//
// Usage: bazel run -c opt //tools/bench:recovery_bench -- [N ...]
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/os/files.h"
#include "tools/bench/bench_util.h"

namespace {

using namespace fleet::bench;  // NOLINT: a benchmark main

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string TempDir() {
  char tmpl[] = "/tmp/fleet-bench.XXXXXX";
  return mkdtemp(tmpl);
}

void Readoption(int n) {
  const std::string dir = TempDir();
  (void)fleet::os::WriteFileAtomic(
      dir + "/fleet.yaml",
      absl::StrCat("name: bench\nrun_dir: run\nengines:\n  - name: s\n    command: [\"", Runfiles(),
                   "tools/bench/bench_child\"]\n    replicas: ", n,
                   "\n    min_uptime: 0\n    env: {BENCH_DIR: \"", dir, "\"}\n"));
  pid_t fleetd = StartFleetd(dir);
  std::vector<pid_t> pids(n);
  for (int i = 0; i < n; ++i) {
    std::optional<Start> s;
    while (!(s = ReadStart(dir, i)).has_value()) SleepUs(500);
    pids[i] = s->pid;
  }
  sleep(1);  // Every pid record written.
  kill(fleetd, SIGKILL);
  waitpid(fleetd, nullptr, 0);
  rename((dir + "/fleetd.log").c_str(), (dir + "/fleetd.1.log").c_str());

  const int64_t t0 = MonoNs();
  fleetd = StartFleetd(dir);
  while (Count(Slurp(dir + "/fleetd.log"), " adopted: ") < n) SleepUs(1000);
  const double adopt_ms = (MonoNs() - t0) / 1e6;
  while (Run({Runfiles() + "cli/fleetctl", "--run-dir", dir + "/run", "status"}) != 0) {
    SleepUs(1000);
  }
  const double status_ms = (MonoNs() - t0) / 1e6;
  int same = 0;
  for (int i = 0; i < n; ++i) same += ReadStart(dir, i)->pid == pids[i];
  printf("%6d  %10.1f  %12.1f  %9d\n", n, adopt_ms, status_ms, n - same);
  fflush(stdout);
  StopFleetd(dir, fleetd);
  Run({"rm", "-rf", dir});
}

void Restore(const std::string& interval, int rounds) {
  const std::string dir = TempDir();
  const std::string good = "{\"cash\": 40, \"positions\": [1, 2, 3]}\n";
  (void)fleet::os::WriteFileAtomic(dir + "/book.json", good);
  (void)fleet::os::WriteFileAtomic(
      dir + "/fleet.yaml",
      absl::StrCat("name: bench\nrun_dir: run\nrecovery:\n  interval: ", interval,
                   "\n  protect:\n    - {path: book.json, required_keys: [cash]}\n"
                   "engines:\n  - name: s\n    shell: 'exec sleep 1000'\n"));
  pid_t fleetd = StartFleetd(dir);
  sleep(3);  // A snapshot of the good version exists.
  std::vector<double> ms;
  for (int r = 0; r < rounds; ++r) {
    const int64_t t0 = MonoNs();
    truncate((dir + "/book.json").c_str(), 0);
    while (Slurp(dir + "/book.json") != good) SleepUs(1000);
    ms.push_back((MonoNs() - t0) / 1e6);
    SleepUs(300000);
  }
  printf("%9s  %6d  %8.0f  %8.0f  %8.0f\n", interval.c_str(), rounds, Percentile(ms, 0.0),
         Percentile(ms, 0.5), Percentile(ms, 1.0));
  fflush(stdout);
  StopFleetd(dir, fleetd);
  Run({"rm", "-rf", dir});
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(atoi(argv[i]));
  if (sizes.empty()) sizes = {100, 1000};
  printf("fleet recovery benchmark: fleetd SIGKILLed with N instances running, then started\n");
  printf("%6s  %10s  %12s  %9s\n", "N", "adopt_ms", "status_ms", "restarted");
  for (int n : sizes) Readoption(n);
  printf("\nclobbered protected file (truncated to 0 bytes) until put back (1s settle rule)\n");
  printf("%9s  %6s  %8s  %8s  %8s\n", "interval", "rounds", "min_ms", "p50_ms", "max_ms");
  Restore("250ms", 10);
  Restore("1s", 10);
}
