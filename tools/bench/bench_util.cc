#include "tools/bench/bench_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
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
#include "core/stats/latency_histogram.h"
#include "google/protobuf/util/json_util.h"
#include "proto/fleet/control/v1/control.pb.h"

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

long ThreadWakeups(pid_t pid, pid_t tid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/task/", tid, "/status"));
  std::string line;
  long total = 0;
  while (std::getline(in, line)) {
    if (line.find("ctxt_switches:") != std::string::npos) {
      total += atol(line.substr(line.find(':') + 1).c_str());
    }
  }
  return total;
}

long CpuTicks(pid_t pid) {
  auto stat = os::ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return -1;
  std::vector<std::string> f =
      absl::StrSplit(stat->substr(stat->rfind(')') + 2), ' ', absl::SkipEmpty());
  return atol(f[11].c_str()) + atol(f[12].c_str());
}

std::string Output(const std::vector<std::string>& argv) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return "";
  os::SpawnSpec spec;
  spec.argv = argv;
  spec.env = Env();
  spec.output_fd = out[1];
  absl::StatusOr<pid_t> pid = os::Spawn(spec);
  close(out[1]);
  std::string text;
  char buf[65536];
  ssize_t n;
  while (pid.ok() && (n = read(out[0], buf, sizeof(buf))) > 0) text.append(buf, n);
  close(out[0]);
  if (pid.ok()) os::WaitProcess(*pid);
  return text;
}

double SpawnFloorMs(int n, const std::string& dir, std::vector<double>* each) {
  const std::string child = Runfiles() + "tools/bench/bench_child";
  const std::string bench_dir = "BENCH_DIR=" + dir;
  std::vector<std::string> instance(n);
  std::vector<pid_t> pids;
  char* argv[] = {const_cast<char*>(child.c_str()), nullptr};
  const int64_t t0 = MonoNs();
  for (int i = 0; i < n; ++i) {
    instance[i] = absl::StrCat("FLEET_INSTANCE=", i);
    char* envp[] = {const_cast<char*>(bench_dir.c_str()), const_cast<char*>(instance[i].c_str()),
                    nullptr};
    pid_t pid;
    if (posix_spawn(&pid, child.c_str(), nullptr, nullptr, argv, envp) == 0) pids.push_back(pid);
  }
  int64_t last = t0;
  for (int i = 0; i < static_cast<int>(pids.size()); ++i) {
    std::optional<Start> s;
    while (!(s = ReadStart(dir, i)).has_value()) SleepUs(200);
    last = std::max(last, s->ns);
    if (each != nullptr) each->push_back((s->ns - t0) / 1e6);
  }
  for (pid_t pid : pids) kill(pid, SIGKILL);
  for (pid_t pid : pids) waitpid(pid, nullptr, 0);
  return (last - t0) / 1e6;
}

std::vector<uint64_t> LoopPassBuckets(const std::string& run_dir) {
  control::v1::GetStatusResponse status;
  const std::string json =
      Output({Runfiles() + "cli/fleetctl", "--run-dir", run_dir, "status", "-o", "json"});
  google::protobuf::util::JsonParseOptions lenient;
  lenient.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(json, &status, lenient).ok()) return {};
  const auto& b = status.daemon().loop_pass_buckets();
  return {b.begin(), b.end()};
}

double LoopPassMs(const std::vector<uint64_t>& before, const std::vector<uint64_t>& after,
                  double q) {
  std::vector<uint64_t> window(after.size());
  uint64_t total = 0;
  for (size_t i = 0; i < after.size(); ++i) {
    window[i] = after[i] - (i < before.size() ? before[i] : 0);
    total += window[i];
  }
  if (total == 0) return 0;
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(q * total + 0.999));
  uint64_t seen = 0;
  for (size_t i = 0; i < window.size(); ++i) {
    seen += window[i];
    if (seen >= rank) {
      return absl::ToDoubleMilliseconds(
          stats::LatencyHistogram::Bound(std::min<int>(i, stats::LatencyHistogram::kBuckets - 2)));
    }
  }
  return 0;
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
