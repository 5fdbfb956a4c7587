// Supervision benchmark (issue 2): for 10, 100 and 1000 sleeping instances,
// prints time to bring all up, crash-to-restart latency (SIGKILL to the new
// instance's first instruction, restart delay 0), fleetd RSS/PSS, idle CPU and
// wake-ups, and the wall time of `fleetctl status` (table and JSON).
//
// Usage: bazel run -c opt //tools/bench:supervise_bench -- [N ...] [--kills K]
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/os/files.h"
#include "core/os/process.h"

extern char** environ;

namespace {

std::string runfiles;

int64_t MonoNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void SleepUs(int64_t us) { usleep(static_cast<useconds_t>(us)); }

struct Start {
  pid_t pid = 0;
  int64_t ns = 0;
};

std::optional<Start> ReadStart(const std::string& dir, int i) {
  auto text = fleet::os::ReadFile(absl::StrCat(dir, "/start.", i));
  if (!text.ok()) return std::nullopt;
  std::vector<std::string> f = absl::StrSplit(*text, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  Start s;
  if (f.size() < 2 || !absl::SimpleAtoi(f[0], &s.pid) || !absl::SimpleAtoi(f[1], &s.ns)) {
    return std::nullopt;
  }
  return s;
}

std::vector<std::string> Env() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (strncmp(*e, "FLEET_", 6) != 0) env.emplace_back(*e);
  }
  return env;
}

// Runs a command quietly; returns its exit code.
int Run(const std::vector<std::string>& argv) {
  fleet::os::SpawnSpec spec;
  spec.argv = argv;
  spec.env = Env();
  absl::StatusOr<pid_t> pid = fleet::os::Spawn(spec);
  if (!pid.ok()) return -1;
  fleet::os::ExitStatus status = fleet::os::WaitProcess(*pid);
  return status.signaled ? -1 : status.code;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

// Sum of a "Key:   N kB" line in /proc/PID/smaps_rollup.
long SmapsKb(pid_t pid, const std::string& key) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/smaps_rollup"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      long kb = 0;
      std::istringstream(line.substr(key.size() + 1)) >> kb;
      return kb;
    }
  }
  return -1;
}

// Context switches of every thread of pid (each is a wake-up).
long Wakeups(pid_t pid) {
  long total = 0;
  std::string task_dir = absl::StrCat("/proc/", pid, "/task");
  DIR* d = opendir(task_dir.c_str());
  if (d == nullptr) return -1;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(absl::StrCat(task_dir, "/", e->d_name, "/status"));
    std::string line;
    while (std::getline(in, line)) {
      if (line.find("ctxt_switches:") != std::string::npos) {
        total += atol(line.substr(line.find(':') + 1).c_str());
      }
    }
  }
  closedir(d);
  return total;
}

// utime + stime of pid, in clock ticks.
long CpuTicks(pid_t pid) {
  auto stat = fleet::os::ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return -1;
  std::vector<std::string> f =
      absl::StrSplit(stat->substr(stat->rfind(')') + 2), ' ', absl::SkipEmpty());
  return atol(f[11].c_str()) + atol(f[12].c_str());
}

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
  std::string run_dir = dir + "/run";
  std::string fleetd = runfiles + "cli/fleetd";
  std::string fleetctl = runfiles + "cli/fleetctl";
  (void)fleet::os::WriteFileAtomic(
      dir + "/fleet.yaml",
      absl::StrCat("name: bench\nrun_dir: run\nengines:\n  - name: s\n    command: [\"", runfiles,
                   "tools/bench/bench_child\"]\n    replicas: ", n,
                   "\n    min_uptime: 0\n    backoff: {initial: 0}\n"
                   "    crash_loop: {max_failures: 0}\n    env: {BENCH_DIR: \"",
                   dir, "\"}\n"));
  int log = open((dir + "/fleetd.log").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  fleet::os::SpawnSpec spec;
  spec.argv = {fleetd, "--config", dir + "/fleet.yaml"};
  spec.env = Env();
  spec.output_fd = log;
  int64_t t0 = MonoNs();
  pid_t pid = *fleet::os::Spawn(spec);
  close(log);

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

  std::vector<double> restart_ms;
  for (int k = 0; k < kills; ++k) {
    int i = (k * 7919) % n;
    Start before = *ReadStart(dir, i);
    int64_t t = MonoNs();
    kill(before.pid, SIGKILL);
    std::optional<Start> after;
    for (;;) {
      after = ReadStart(dir, i);
      if (after.has_value() && after->pid != before.pid) break;
      SleepUs(100);
    }
    restart_ms.push_back((after->ns - t) / 1e6);
    SleepUs(20000);
  }

  sleep(2);  // Let the restarts settle before measuring idleness.
  long rss = SmapsKb(pid, "Rss"), pss = SmapsKb(pid, "Pss");
  long wake0 = Wakeups(pid), cpu0 = CpuTicks(pid);
  const int idle_s = 5;
  sleep(idle_s);
  long wake1 = Wakeups(pid), cpu1 = CpuTicks(pid);
  double idle_cpu = 100.0 * (cpu1 - cpu0) / sysconf(_SC_CLK_TCK) / idle_s;
  double wakeups = static_cast<double>(wake1 - wake0) / idle_s;

  double status_ms = TimeCommandMs({fleetctl, "--run-dir", run_dir, "status"}, 20);
  double json_ms = TimeCommandMs({fleetctl, "--run-dir", run_dir, "status", "-o", "json"}, 20);

  int64_t t_stop = MonoNs();
  Run({fleetctl, "--run-dir", run_dir, "shutdown"});
  int wstatus;
  waitpid(pid, &wstatus, 0);
  double stop_ms = (MonoNs() - t_stop) / 1e6;

  printf("%6d  %8.1f  %8.2f  %8.2f  %7.1f  %7.1f  %7.2f  %8.2f  %8.1f  %8.1f  %8.1f\n", n, up_ms,
         Percentile(restart_ms, 0.5), Percentile(restart_ms, 0.95), rss / 1024.0, pss / 1024.0,
         idle_cpu, wakeups, status_ms, json_ms, stop_ms);
  fflush(stdout);
  Run({"rm", "-rf", dir});
}

}  // namespace

int main(int argc, char** argv) {
  char self[4096];
  ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
  runfiles = std::string(self, len > 0 ? static_cast<size_t>(len) : 0) + ".runfiles/fleet/";
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
  printf("%6s  %8s  %8s  %8s  %7s  %7s  %7s  %8s  %8s  %8s  %8s\n", "N", "up_ms", "rst_p50",
         "rst_p95", "rss_MB", "pss_MB", "idle%", "wake/s", "st_ms", "json_ms", "stop_ms");
  for (int n : sizes) Bench(n, kills);
}
