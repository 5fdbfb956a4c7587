#include "core/supervisor/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/defaults/defaults.h"
#include "core/log/log.h"
#include "core/os/cgroup.h"
#include "core/os/files.h"
#include "core/status/macros.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {
namespace {

namespace v1 = ::fleet::config::v1;
namespace ctl = ::fleet::control::v1;

// epoll tags for the loop's own descriptors; instance pipes carry their
// Instance* instead (never this small).
constexpr uint64_t kTagSignal = 1;
constexpr uint64_t kTagWake = 2;
constexpr uint64_t kTagInotify = 3;

// Woken this much past its deadline, the loop was not running (a busy loop
// is late by milliseconds): see NoteStall.
constexpr absl::Duration kStallAfter = absl::Seconds(1);

}  // namespace

std::function<double()> Uniform01() {
  auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [rng] { return std::uniform_real_distribution<double>(0, 1)(*rng); };
}

sigset_t Supervisor::HandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, sig);
  return set;
}

Supervisor::Supervisor(SupervisorOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : os::RealClock()),
      events_(options_.events),
      watch_(
          clock_, [this](const std::string& path, bool complete) {
            OnWatchedFileChanged(path, complete);
          },
          [this](const std::string& why) {
            Emit("fleetd", "inotify_unavailable",
                 absl::StrCat(why,
                              ": the stop flag, metrics, answer, log and heartbeat files are "
                              "looked at every second instead of as they change (raise the "
                              "limit and restart fleetd to watch them again)"));
          }),
      capture_(clock_, options_.run_dir,
               [this](const std::string& subject, const std::string& kind,
                      const std::string& message) { Emit(subject, kind, message); },
               [this](OutputPipe* pipe, absl::string_view data) {
                 const module::InstanceView view = ViewOf(*pipe->inst);
                 for (const auto& m : modules_) m->OnOutput(view, pipe->stream, data);
               }),
      containment_(options_.run_dir,
                   [this](const std::string& subject, const std::string& kind,
                          const std::string& message) { Emit(subject, kind, message); }) {
  base_env_ = os::CurrentEnvironment();
  started_wall_ = clock_->WallNow();
  started_mono_ = now_ = clock_->MonotonicNow();
}

Supervisor::~Supervisor() {
  // Modules first: their workers may still post here until they are joined.
  modules_.clear();
  for (auto& [name, engine] : engines_) {
    for (auto& inst : engine->instances) {
      capture_.Close(&inst->out);
      capture_.Close(&inst->err);
    }
  }
  for (int fd : {epoll_fd_, signal_fd_, wake_fd_}) {
    if (fd >= 0) ::close(fd);
  }
}

absl::Status Supervisor::Init() {
  if (options_.watchdog_interval > absl::ZeroDuration() && options_.watchdog_ping) {
    watchdog_due_ping_ = clock_->MonotonicNow();
  }
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return absl::ErrnoToStatus(errno, "epoll_create1");
  capture_.set_epoll(epoll_fd_);
  sigset_t signals = HandledSignals();
  signal_fd_ = ::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd_ < 0) return absl::ErrnoToStatus(errno, "signalfd");
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return absl::ErrnoToStatus(errno, "eventfd");
  watch_.Init();
  for (auto [fd, tag] : {std::pair{signal_fd_, kTagSignal}, std::pair{wake_fd_, kTagWake},
                         std::pair{watch_.fd(), kTagInotify}}) {
    if (fd < 0) continue;  // inotify, when polling instead.
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      return absl::ErrnoToStatus(errno, "epoll_ctl");
    }
  }
  containment_.Init(options_.use_cgroups);
  return os::MakeDirs(defaults::LogsDir(options_.run_dir), 0700);
}

// --- the loop ---

void Supervisor::Run() {
  epoll_event events[64];
  std::optional<MonoTime> next_deadline;
  for (;;) {
    now_ = clock_->MonotonicNow();
    // Output alone changes no state: only an exit, a timer, a command or a
    // signal makes the O(instances) passes below worth running, so a chatty
    // fleet costs a read and a write per chunk, not a scan.
    if (dirty_) {
      dirty_ = false;
      Reconcile();
      if (shutting_down_) {
        bool alive = false;
        for (const auto& [name, engine] : engines_) alive = alive || EngineAlive(*engine);
        if (!alive) break;
      }
      next_deadline = NextDeadline();
    }
    int n = ::epoll_wait(epoll_fd_, events, 64, TimeoutMs(next_deadline));
    if (n < 0 && errno != EINTR) {
      log::Error(absl::StrCat("epoll_wait: ", strerror(errno)));
      continue;
    }
    now_ = clock_->MonotonicNow();
    if (next_deadline.has_value() && now_ - *next_deadline > kStallAfter) NoteStall(*next_deadline);
    for (int i = 0; i < n; ++i) {
      switch (events[i].data.u64) {
        case kTagSignal:
          HandleSignals();
          break;
        case kTagWake:
          HandleWake();
          break;
        case kTagInotify:
          watch_.OnReadable(now_);
          break;
        default:
          if (events[i].data.u64 & 1) {
            HandlePidfd(reinterpret_cast<Instance*>(events[i].data.u64 & ~uint64_t{1}));
          } else if (events[i].data.u64 & 2) {
            reinterpret_cast<FdWatch*>(events[i].data.u64 & ~uint64_t{2})->on_readable();
            dirty_ = true;  // Its deadline may have moved.
          } else {
            capture_.OnReadable(static_cast<OutputPipe*>(events[i].data.ptr), events[i].events);
          }
      }
    }
    if (next_deadline.has_value() && *next_deadline <= now_) {
      loop_lag_ = now_ - *next_deadline;
      max_loop_lag_ = std::max(max_loop_lag_, loop_lag_);
      RunTimers();
      dirty_ = true;
    }
  }
  // Whatever was posted meanwhile still gets an answer; later posts are refused.
  std::vector<std::function<void()>> last;
  {
    fleet::MutexLock lock(&post_mu_);
    finished_ = true;
    last.swap(posted_);
  }
  for (auto& fn : last) fn();
  for (const auto& m : modules_) m->OnLoopEnd();
  containment_.RemoveAll();
  Emit("fleetd", "stopped", "every engine is stopped");
}

void Supervisor::NoteStall(MonoTime due) {
  last_stall_ = Stall{due, now_};
  for (auto& [name, engine] : engines_) {
    for (auto& inst : engine->instances) {
      capture_.Drain(&inst->out);
      capture_.Drain(&inst->err);
    }
  }
  Emit("fleetd", "stalled",
       absl::StrCat("the supervision loop did not run for ",
                    absl::FormatDuration(absl::Trunc(now_ - due, absl::Milliseconds(100))),
                    " (fleetd stopped, suspended or starved of CPU): output written meanwhile was "
                    "read first, and the gap does not count against any instance's progress"));
}

std::optional<MonoTime> Supervisor::NextDeadline() const {
  std::optional<MonoTime> next;
  auto consider = [&next](const std::optional<MonoTime>& d) {
    if (d.has_value() && (!next.has_value() || *d < *next)) next = d;
  };
  consider(watchdog_due_ping_);
  for (const auto& m : modules_) consider(m->NextDeadline());
  consider(containment_.sweep_due());
  consider(watch_.NextRescan());
  consider(records_retry_due_);
  for (const StoppingOrphan& o : orphans_stopping_) consider(o.kill_at);
  for (const auto& [name, engine] : engines_) {
    for (const auto& inst : engine->instances) {
      consider(inst->life.deadline());
      consider(inst->dying_check_due);
    }
  }
  return next;
}

int Supervisor::TimeoutMs(std::optional<MonoTime> next) const {
  if (!next.has_value()) return -1;  // Nothing due: sleep until an fd wakes us.
  absl::Duration wait = *next - clock_->MonotonicNow();
  if (wait <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<double>(std::ceil(absl::ToDoubleMilliseconds(wait)), 1e9));
}

void Supervisor::HandleSignals() {
  dirty_ = true;
  signalfd_siginfo info;
  bool child = false;
  while (::read(signal_fd_, &info, sizeof(info)) == sizeof(info)) {
    switch (info.ssi_signo) {
      case SIGCHLD:
        child = true;
        break;
      case SIGTERM:
      case SIGINT:
        Shutdown(os::SignalName(static_cast<int>(info.ssi_signo)));
        break;
      case SIGHUP:
        (void)Reload();
        break;
    }
  }
  if (child) ReapChildren();
}

void Supervisor::HandleWake() {
  dirty_ = true;  // Commands change what is wanted.
  uint64_t count;
  (void)::read(wake_fd_, &count, sizeof(count));
  std::vector<std::function<void()>> work;
  {
    fleet::MutexLock lock(&post_mu_);
    work.swap(posted_);
  }
  for (auto& fn : work) fn();
}

void Supervisor::CheckStopFlag() {
  if (::access(defaults::StopFlag(options_.run_dir).c_str(), F_OK) != 0) return;
  ::unlink(defaults::StopFlag(options_.run_dir).c_str());
  Shutdown("stop flag");
  dirty_ = true;
}

void Supervisor::ReapChildren() {
  for (const os::Reaped& r : os::ReapExitedChildren()) {
    auto it = by_pid_.find(r.pid);
    if (auto helper = helpers_.find(r.pid); helper != helpers_.end()) {
      Helper done = std::move(helper->second);
      helpers_.erase(helper);
      --done.inst->helpers;
      dirty_ = true;
      done.on_exit(r.status);
      continue;
    }
    // Not an instance: an exec probe (handed to whoever waits for it), or an
    // orphaned grandchild handed to us as subreaper (reaping it is all).
    if (it == by_pid_.end()) {
      if (options_.children != nullptr) options_.children->Deliver(r.pid, r.status);
      continue;
    }
    Instance* inst = it->second;
    by_pid_.erase(it);
    OnExit(inst, r.status);
  }
}

void Supervisor::OnExit(Instance* inst, const os::ExitStatus& exit) {
  os::ExitStatus status = exit;
  if (status.signaled && status.signal == SIGKILL && inst->oom_kills_at_start.has_value()) {
    // Read before EndLeftovers: the leaf's count goes with the leaf.
    std::optional<os::OomKillCount> now = os::ReadOomKills(inst->run_cgroup);
    status.oom_killed = now.has_value() && now->kills > inst->oom_kills_at_start->kills;
  }
  inst->oom_kills_at_start.reset();
  // What is left of its process group (and cgroup) goes too, so a restart
  // never runs next to the old instance's children (systemd's
  // KillMode=control-group).
  containment_.EndLeftovers(inst->id, inst->engine->spec->name(), inst->index, inst->pid, now_);
  RemoveInstanceRecord(options_.run_dir, inst->engine->spec->name(), inst->index);
  inst->record_pending = false;
  if (inst->pidfd >= 0) {  // Reaped as a child after all (cannot happen; be tidy).
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, inst->pidfd, nullptr);
    ::close(inst->pidfd);
    inst->pidfd = -1;
  }
  for (OutputPipe* pipe : {&inst->out, &inst->err}) {
    capture_.Drain(pipe);
    capture_.Close(pipe);
  }
  const absl::Duration ran = clock_->WallNow() - inst->started_wall;
  capture_.Marker(inst, absl::StrCat(status.Describe(), " after ",
                                 absl::FormatDuration(absl::Trunc(
                                     ran, ran < absl::Seconds(1) ? absl::Milliseconds(1)
                                                                 : absl::Milliseconds(100)))));
  for (const auto& m : modules_) m->OnExit(ViewOf(*inst), status);
  inst->pid = 0;
  inst->has_exited = true;
  inst->last_exit.set_code(status.signaled ? -1 : status.code);
  inst->last_exit.set_signal(status.signaled ? status.signal : 0);
  inst->last_exit.set_unix_ms(absl::ToUnixMillis(clock_->WallNow()));
  inst->last_exit.set_oom_killed(status.oom_killed);
  Action action = inst->life.Exited(now_, status);
  const module::InstanceView view = ViewOf(*inst);
  for (const auto& m : modules_) m->OnExited(view, status);
  if (inst->engine->scheduled) {
    Perform(inst, action);  // Its run's events are the scheduler's.
    return;
  }
  // The reason already names the exit status and what happens next.
  const State s = inst->life.state();
  Emit(inst->id,
       s == State::kFatal                            ? "fatal"
       : s == State::kStopped || s == State::kKilled ? "stopped"
       : s == State::kIdle                           ? "cycle_done"
                                                     : "exited",
       inst->life.reason());
  Perform(inst, action);
}

void Supervisor::RunTimers() {
  for (auto& [name, engine] : engines_) {
    for (auto& inst : engine->instances) {
      std::optional<MonoTime> d = inst->life.deadline();
      if (!d.has_value() || *d > now_) continue;
      State before = inst->life.state();
      Action action = inst->life.Tick(now_);
      if (before == State::kStarting && inst->life.state() == State::kRunning) {
        Emit(inst->id, "running", absl::StrCat("pid ", inst->pid));
      } else if ((before == State::kStarting || before == State::kRunning) &&
                 inst->life.state() == State::kStopping) {
        Emit(inst->id, "timed_out", inst->life.reason());  // The cycle's run timeout.
      }
      Perform(inst.get(), action);
    }
  }
  for (auto& [name, engine] : engines_) {
    for (auto& inst : engine->instances) {
      // The reconcile after the timers starts it if the killed copy is gone.
      if (inst->dying_check_due.has_value() && *inst->dying_check_due <= now_) {
        inst->dying_check_due.reset();
      }
    }
  }
  for (const auto& m : modules_) {
    if (std::optional<MonoTime> due = m->NextDeadline(); due.has_value() && *due <= now_) {
      m->OnDeadline();
    }
  }
  containment_.SweepOrphans(
      now_, [this](pid_t pid) { return by_pid_.count(pid) > 0; },
      [this](const std::string& engine, uint32_t index) -> pid_t {
        auto it = engines_.find(engine);
        if (it == engines_.end() || index >= it->second->instances.size()) return 0;
        return it->second->instances[index]->pid;
      });
  if (std::optional<MonoTime> rescan = watch_.NextRescan(); rescan.has_value() && *rescan <= now_) {
    watch_.Rescan(now_);
    CheckStopFlag();  // One there before polling began is not a change.
  }
  RetryInstanceRecords();
  KillStubbornOrphans();
  if (watchdog_due_ping_.has_value() && *watchdog_due_ping_ <= now_) {
    options_.watchdog_ping();
    watchdog_due_ping_ = now_ + options_.watchdog_interval;
  }
}

}  // namespace fleet::supervisor
