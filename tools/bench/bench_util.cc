#include "tools/bench/bench_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/os/files.h"
#include "core/os/process.h"

namespace fleet::bench {

const std::string& Runfiles() {
  static const std::string* path = [] {
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    return new std::string(std::string(self, len > 0 ? static_cast<size_t>(len) : 0) +
                           ".runfiles/fleet/");
  }();
  return *path;
}

int64_t MonoNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void SleepUs(int64_t us) { usleep(static_cast<useconds_t>(us)); }

std::optional<Start> ReadStart(const std::string& dir, int i) {
  auto text = os::ReadFile(absl::StrCat(dir, "/start.", i));
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
  for (const std::string& kv : os::CurrentEnvironment()) {
    if (kv.rfind("FLEET_", 0) != 0) env.push_back(kv);
  }
  return env;
}

int Run(const std::vector<std::string>& argv) {
  os::SpawnSpec spec;
  spec.argv = argv;
  spec.env = Env();
  absl::StatusOr<pid_t> pid = os::Spawn(spec);
  if (!pid.ok()) return -1;
  os::ExitStatus status = os::WaitProcess(*pid);
  return status.signaled ? -1 : status.code;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

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

long CpuTicks(pid_t pid) {
  auto stat = os::ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return -1;
  std::vector<std::string> f =
      absl::StrSplit(stat->substr(stat->rfind(')') + 2), ' ', absl::SkipEmpty());
  return atol(f[11].c_str()) + atol(f[12].c_str());
}

pid_t StartFleetd(const std::string& dir) {
  int log = open((dir + "/fleetd.log").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  os::SpawnSpec spec;
  spec.argv = {Runfiles() + "cli/fleetd", "--config", dir + "/fleet.yaml"};
  spec.env = Env();
  spec.output_fd = log;
  absl::StatusOr<pid_t> pid = os::Spawn(spec);
  close(log);
  return pid.ok() ? *pid : -1;
}

void StopFleetd(const std::string& dir, pid_t fleetd) {
  Run({Runfiles() + "cli/fleetctl", "--run-dir", dir + "/run", "shutdown"});
  int status;
  waitpid(fleetd, &status, 0);
}

}  // namespace fleet::bench
