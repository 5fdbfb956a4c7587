#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/os/kernel_file.h"
#include "core/os/process.h"

extern char** environ;

namespace fleet::os {

std::vector<std::string> CurrentEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) env.emplace_back(*e);
  return env;
}

std::string ExitStatus::Describe() const {
  if (unknown) return "exited (how is unknown: it was adopted after a fleetd restart)";
  if (!signaled) return absl::StrCat("exited with status ", code);
  if (oom_killed)
    return absl::StrCat("killed by ", SignalName(signal),
                        " (out of memory: the kernel's OOM killer)");
  return absl::StrCat("killed by ", SignalName(signal));
}

int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

bool PidfdSignal(int pidfd, int sig) {
  return pidfd >= 0 && ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) == 0;
}

bool SignalIfSame(pid_t pid, uint64_t start_time, int sig) {
  const int pidfd = PidfdOpen(pid);
  if (pidfd < 0) return false;
  // Read while the pidfd pins the pid: this start time is that process's.
  const std::optional<uint64_t> start = ProcessStartTime(pid);
  const bool sent = start.has_value() && *start == start_time && PidfdSignal(pidfd, sig);
  ::close(pidfd);
  return sent;
}

bool SignalGroup(pid_t pgid, int sig) {
  if (pgid <= 1) return false;  // Never signal every process or init's group.
  return ::kill(-pgid, sig) == 0;
}

namespace {

ExitStatus FromWaitStatus(int status) {
  ExitStatus out;
  if (WIFSIGNALED(status)) {
    out.signaled = true;
    out.signal = WTERMSIG(status);
  } else {
    out.code = WEXITSTATUS(status);
  }
  return out;
}

}  // namespace

ExitStatus WaitProcess(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return {127, 0, false};
  }
  return FromWaitStatus(status);
}

std::vector<Reaped> ReapExitedChildren(size_t max) {
  std::vector<Reaped> reaped;
  while (reaped.size() < max) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;  // 0: none exited; -1/ECHILD: no children left.
    reaped.push_back({pid, FromWaitStatus(status)});
  }
  return reaped;
}

namespace {

struct StatFacts {
  char state;
  uint64_t start_time;
  uint64_t cpu_ticks;  // utime + stime
  uint64_t rss_pages;
};

// Field 3 (state) and 22 (starttime) of /proc/PID/stat; nullopt if it is gone.
std::optional<StatFacts> ReadStat(pid_t pid) {
  const std::string stat = ReadKernelFile(absl::StrCat("/proc/", pid, "/stat"));
  // The command name (field 2) may hold spaces and ')'; fields follow the last ')'.
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(stat).substr(paren + 1), ' ', absl::SkipEmpty());
  // fields[0] is field 3 (state); starttime is field 22.
  // fields[k] is field k + 3: utime 14, stime 15, starttime 22, rss 24.
  StatFacts facts{};
  uint64_t utime = 0, stime = 0;
  if (fields.size() < 22 || fields[0].empty() || !absl::SimpleAtoi(fields[19], &facts.start_time) ||
      !absl::SimpleAtoi(fields[11], &utime) || !absl::SimpleAtoi(fields[12], &stime) ||
      !absl::SimpleAtoi(fields[21], &facts.rss_pages)) {
    return std::nullopt;
  }
  facts.cpu_ticks = utime + stime;
  facts.state = fields[0][0];
  return facts;
}

}  // namespace

std::optional<uint64_t> ProcessStartTime(pid_t pid) {
  std::optional<StatFacts> facts = ReadStat(pid);
  if (!facts.has_value()) return std::nullopt;
  return facts->start_time;
}

std::optional<ProcessUsage> ReadProcessUsage(pid_t pid) {
  std::optional<StatFacts> facts = ReadStat(pid);
  if (!facts.has_value()) return std::nullopt;
  static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return ProcessUsage{facts->cpu_ticks, facts->rss_pages * page};
}

bool ProcessLives(pid_t pid, uint64_t start_time) {
  std::optional<StatFacts> facts = ReadStat(pid);
  return facts.has_value() && facts->start_time == start_time && facts->state != 'Z' &&
         facts->state != 'X';
}

uint64_t SelfRssBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

uint32_t SelfOpenFds() {
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return 0;
  uint32_t n = 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n > 0 ? n - 1 : 0;  // Not the directory stream itself.
}

std::string SelfExecutable() {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  return n > 0 ? std::string(self, static_cast<size_t>(n)) : "";
}

std::optional<int> SignalFromName(const std::string& name) {
  int number = 0;
  if (absl::SimpleAtoi(name, &number)) {
    if (number > 0 && number < NSIG) return number;
    return std::nullopt;
  }
  absl::string_view bare = name;
  absl::ConsumePrefix(&bare, "SIG");
  for (int sig = 1; sig < NSIG; ++sig) {
    const char* abbrev = sigabbrev_np(sig);
    if (abbrev != nullptr && bare == abbrev) return sig;
  }
  return std::nullopt;
}

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  if (abbrev == nullptr) return absl::StrCat("signal ", sig);
  return absl::StrCat("SIG", abbrev);
}

}  // namespace fleet::os
