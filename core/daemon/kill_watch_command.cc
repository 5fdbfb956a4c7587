#include "core/daemon/kill_watch_command.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "core/daemon/command_flags.h"
#include "core/daemon/daemon.h"
#include "core/killcond/expression.h"
#include "core/killcond/metrics.h"
#include "core/os/files.h"
#include "core/os/process.h"

namespace fleet::daemon {
namespace {

constexpr char kUsage[] =
    "usage: fleetd kill-watch --condition EXPR [--metrics PATH] [--marker PATH]\n"
    "                         [--every D] [--grace D] -- COMMAND [ARG...]\n"
    "  --condition EXPR  the engine's kill_condition (\"daily_loss > $10 OR cash < $20\")\n"
    "  --metrics PATH    the engine's metrics_path ({instance}: $FLEET_INSTANCE)\n"
    "  --marker PATH     written when the condition holds; while it exists the\n"
    "                    worker is not run (remove it to run the worker again)\n"
    "  --every D         how often the metrics file is read (default 5s)\n"
    "  --grace D         SIGTERM to SIGKILL when stopping the worker (default 10s)\n";

constexpr size_t kMaxMetricsFileBytes = 1 << 20;
constexpr absl::Duration kParkPoll = absl::Seconds(5);

struct Args {
  std::string condition, metrics, marker;
  absl::Duration every = absl::Seconds(5), grace = absl::Seconds(10);
  std::vector<std::string> command;
};

void Say(const std::string& line) { fprintf(stderr, "fleetd kill-watch: %s\n", line.c_str()); }

int Usage(const std::string& why) {
  fprintf(stderr, "fleetd kill-watch: %s\n%s", why.c_str(), kUsage);
  return kExitUsage;
}

std::string Parse(const std::vector<std::string>& args, Args* a) {
  size_t i = 0;
  for (; i < args.size() && args[i] != "--"; ++i) {
    const std::string& arg = args[i];
    if (i + 1 >= args.size()) return arg + " needs a value";
    const std::string& value = args[++i];
    std::string error;
    if (arg == "--condition") {
      a->condition = value;
    } else if (arg == "--metrics") {
      const char* instance = getenv("FLEET_INSTANCE");
      a->metrics = absl::StrReplaceAll(
          value, {{"{instance}", instance != nullptr && *instance ? instance : "0"}});
    } else if (arg == "--marker") {
      a->marker = value;
    } else if (arg == "--every") {
      error = ParsePositiveDuration(arg, value, &a->every);
    } else if (arg == "--grace") {
      error = ParsePositiveDuration(arg, value, &a->grace);
    } else {
      return "unknown flag " + arg;
    }
    if (!error.empty()) return error;
  }
  if (i + 1 >= args.size()) return "the worker's command goes after --";
  a->command.assign(args.begin() + i + 1, args.end());
  if (a->condition.empty()) return "--condition EXPR is required";
  return "";
}

bool Exists(const std::string& path) {
  struct stat st;
  return !path.empty() && ::lstat(path.c_str(), &st) == 0;
}

void WriteAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;  // Our own output is gone: the worker goes on regardless.
    data += w;
    n -= static_cast<size_t>(w);
  }
}

// The worker's run under the condition, from spawn to exit.
class Watch {
 public:
  Watch(const Args& args, const killcond::Expression& condition, int signal_fd)
      : args_(args), condition_(condition), signal_fd_(signal_fd) {}

  // Waits while the marker exists. False: a signal came meanwhile.
  bool Park() {
    if (!Exists(args_.marker)) return true;
    const std::string why(
        absl::StripTrailingAsciiWhitespace(os::ReadUntrustedFile(args_.marker, 4096).value_or("")));
    Say(absl::StrCat("the worker was stopped for good by its kill condition (", why, "); remove ",
                     args_.marker, " to run it again"));
    while (Exists(args_.marker)) {
      if (WaitSignal(kParkPoll).has_value()) return false;
    }
    Say(absl::StrCat(args_.marker, " was removed: running the worker again"));
    return true;
  }

  // The next SIGTERM or SIGINT within d (SIGCHLD of nothing is dropped).
  std::optional<int> WaitSignal(absl::Duration d) {
    const absl::Time until = absl::Now() + d;
    for (absl::Duration left = d; left > absl::ZeroDuration(); left = until - absl::Now()) {
      pollfd p{signal_fd_, POLLIN, 0};
      const int ms =
          static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 60000));
      if (::poll(&p, 1, ms) <= 0) continue;
      signalfd_siginfo info;
      while (::read(signal_fd_, &info, sizeof(info)) == sizeof(info)) {
        if (info.ssi_signo == SIGTERM || info.ssi_signo == SIGINT) {
          return static_cast<int>(info.ssi_signo);
        }
      }
    }
    return std::nullopt;
  }

  // Runs the worker until it exits; its exit status. *tripped: the
  // condition stopped it.
  absl::StatusOr<os::ExitStatus> Run(bool* tripped) {
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe");
    if (::pipe2(err, O_CLOEXEC) != 0) {
      ::close(out[0]);
      ::close(out[1]);
      return absl::ErrnoToStatus(errno, "pipe");
    }
    os::SpawnSpec spec;
    spec.argv = args_.command;
    spec.env = os::CurrentEnvironment();
    spec.output_fd = out[1];
    spec.error_fd = err[1];
    absl::StatusOr<pid_t> pid = os::Spawn(spec);
    ::close(out[1]);
    ::close(err[1]);
    if (!pid.ok()) {
      ::close(out[0]);
      ::close(err[0]);
      return pid.status();
    }
    pid_ = *pid;
    streams_[0] = {out[0], STDOUT_FILENO, {}};
    streams_[1] = {err[0], STDERR_FILENO, {}};
    line_metrics_.clear();
    *tripped = false;
    std::optional<absl::Time> kill_at;
    absl::Time tick = absl::Now();
    std::optional<os::ExitStatus> exited;
    while (!exited.has_value()) {
      const absl::Time now = absl::Now();
      if (!*tripped && now >= tick) {
        tick = now + args_.every;
        if (Holds()) {
          *tripped = true;
          os::SignalGroup(pid_, SIGTERM);
          kill_at = now + args_.grace;
        }
      }
      if (kill_at.has_value() && now >= *kill_at) {
        os::SignalGroup(pid_, SIGKILL);
        kill_at.reset();
      }
      absl::Time next = *tripped ? now + absl::Milliseconds(100) : tick;
      if (kill_at.has_value()) next = std::min(next, *kill_at);
      Poll(std::max(absl::ZeroDuration(), next - now));
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        os::ExitStatus s;
        s.signaled = WIFSIGNALED(status);
        s.signal = s.signaled ? WTERMSIG(status) : 0;
        s.code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
        exited = s;
      }
    }
    Drain();
    for (Stream& s : streams_) ::close(s.fd);
    return *exited;
  }

 private:
  struct Stream {
    int fd = -1;
    int to = -1;
    killcond::MetricLineScanner scanner;
  };

  // Output passed through (and scanned), signals passed on, for up to d.
  void Poll(absl::Duration d) {
    pollfd fds[3] = {
        {streams_[0].fd, POLLIN, 0}, {streams_[1].fd, POLLIN, 0}, {signal_fd_, POLLIN, 0}};
    for (int i = 0; i < 2; ++i) {
      if (streams_[i].fd < 0) fds[i].fd = -1;
    }
    const int ms = static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(d) + 1, 60000));
    if (::poll(fds, 3, ms) <= 0) return;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].revents != 0 && !Pass(&streams_[i])) {
        ::close(streams_[i].fd);
        streams_[i].fd = -1;
      }
    }
    if (fds[2].revents != 0) {
      signalfd_siginfo info;
      while (::read(signal_fd_, &info, sizeof(info)) == sizeof(info)) {
        if (info.ssi_signo == SIGTERM || info.ssi_signo == SIGINT) {
          os::SignalGroup(pid_, static_cast<int>(info.ssi_signo));
        }
      }
    }
  }

  // One read of a stream; false at its end.
  bool Pass(Stream* s) {
    char buf[65536];
    const ssize_t n = ::read(s->fd, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n <= 0) return false;
    WriteAll(s->to, buf, static_cast<size_t>(n));
    s->scanner.Feed(absl::string_view(buf, static_cast<size_t>(n)), [this](absl::string_view l) {
      killcond::Metrics values;
      (void)killcond::ParseMetricLine(l.substr(killcond::kMetricMarker.size()), &values);
      // Only what the condition reads is kept: a worker printing ever
      // new names does not grow kill-watch.
      for (const auto& [k, v] : values) {
        if (Named(k)) line_metrics_[k] = v;
      }
    });
    return true;
  }

  // What is left in the pipes once the worker is gone (not what a
  // descendant that outlived it keeps writing).
  void Drain() {
    for (Stream& s : streams_) {
      if (s.fd < 0) continue;
      ::fcntl(s.fd, F_SETFL, O_NONBLOCK);
      for (int i = 0; i < 64 && Pass(&s);) {
        pollfd p{s.fd, POLLIN, 0};
        if (::poll(&p, 1, 0) <= 0) break;
        ++i;
      }
    }
  }

  bool Named(const std::string& name) const {
    const std::vector<std::string>& names = condition_.variables();
    return std::find(names.begin(), names.end(), name) != names.end();
  }

  // The condition over the latest variables; says what it decided.
  bool Holds() {
    if (!args_.metrics.empty()) {
      // Not written yet: its variables stay unknown; garbage: they keep
      // their last values.
      absl::StatusOr<std::string> text = os::ReadUntrustedFile(args_.metrics, kMaxMetricsFileBytes);
      if (text.ok()) {
        absl::StatusOr<killcond::Metrics> parsed = killcond::ParseMetricsJson(*text);
        if (parsed.ok()) {
          file_metrics_.clear();
          for (const auto& [k, v] : *parsed) {
            if (Named(k)) file_metrics_[k] = v;
          }
          file_error_.clear();
        } else if (std::string e(parsed.status().message()); e != file_error_) {
          Say(absl::StrCat(args_.metrics, ": ", e, " (its variables keep their last values)"));
          file_error_ = e;
        }
      }
    }
    killcond::Metrics values = file_metrics_;
    for (const auto& [k, v] : line_metrics_) values[k] = v;
    const killcond::Verdict verdict = condition_.Evaluate(values);
    const std::string missing = absl::StrJoin(verdict.missing, ", ");
    if (verdict.truth == killcond::Truth::kUnknown && missing != missing_) {
      Say(absl::StrCat("kill condition '", condition_.text(), "' waits for ", missing,
                       " (never published)"));
    }
    missing_ = missing;
    if (verdict.truth != killcond::Truth::kTrue) return false;
    const std::string why =
        absl::StrCat("kill condition '", condition_.text(), "' held at ",
                     absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone()), ": ",
                     verdict.values);
    // Recorded first, then said: whoever reads the line finds the marker.
    if (!args_.marker.empty()) {
      absl::Status written = os::MakeDirs(os::DirName(args_.marker), 0755);
      if (written.ok()) written = os::WriteFileAtomic(args_.marker, why + "\n", 0644);
      if (!written.ok()) {
        Say(absl::StrCat("the marker was not written (", written.message(),
                         "): a restarted container will run the worker again"));
      }
    }
    Say(why + ": stopping the worker for good");
    return true;
  }

  const Args& args_;
  const killcond::Expression& condition_;
  const int signal_fd_;
  pid_t pid_ = 0;
  Stream streams_[2];
  killcond::Metrics line_metrics_, file_metrics_;
  std::string file_error_, missing_;
};

}  // namespace

int KillWatchCommand(const std::vector<std::string>& args) {
  if (!args.empty() && (args[0] == "-h" || args[0] == "--help")) {
    printf("%s", kUsage);
    return kExitOk;
  }
  Args a;
  if (std::string why = Parse(args, &a); !why.empty()) return Usage(why);
  absl::StatusOr<killcond::Expression> condition = killcond::Expression::Parse(a.condition);
  if (!condition.ok()) {
    return Usage(absl::StrCat("--condition '", a.condition, "': ", condition.status().message()));
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  const int signal_fd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd < 0) {
    Say(absl::StrCat("signalfd: ", strerror(errno)));
    return kExitFailure;
  }
  Watch watch(a, *condition, signal_fd);
  for (;;) {
    if (!watch.Park()) return kExitOk;
    bool tripped = false;
    absl::StatusOr<os::ExitStatus> status = watch.Run(&tripped);
    if (!status.ok()) {
      Say(absl::StrCat("cannot run ", a.command[0], ": ", status.status().message()));
      return 127;
    }
    if (!tripped) return status->signaled ? 128 + status->signal : status->code;
    Say(absl::StrCat("the worker ", status->Describe()));
    if (a.marker.empty()) {
      // Nothing outlives this process to keep it stopped: it stays, parked.
      Say("parked until stopped (no --marker: a restart runs the worker again)");
      while (!watch.WaitSignal(absl::Hours(1)).has_value()) {
      }
      return kExitOk;
    }
  }
}

}  // namespace fleet::daemon
