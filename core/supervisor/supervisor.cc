#include "core/supervisor/supervisor.h"

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
      table_(defaults::LogsDir(options_.run_dir)),
      watch_(
          clock_,
          [this](const std::string& path, bool complete) { OnWatchedFileChanged(path, complete); },
          [this](const std::string& why) {
            Emit("fleetd", "inotify_unavailable",
                 absl::StrCat(why,
                              ": the stop flag, metrics, answer, log and heartbeat files are "
                              "looked at every second instead of as they change (raise the "
                              "limit and restart fleetd to watch them again)"));
          }),
      capture_(
          clock_, options_.run_dir,
          [this](const std::string& subject, const std::string& kind, const std::string& message) {
            Emit(subject, kind, message);
          },
          [this](OutputPipe* pipe, absl::string_view data) {
            const module::InstanceView view = ViewOf(*pipe->inst);
            for (const auto& m : modules_) m->OnOutput(view, pipe->stream, data);
          }),
      containment_(options_.run_dir,
                   [this](const std::string& subject, const std::string& kind,
                          const std::string& message) { Emit(subject, kind, message); }),
      launcher_(options_.run_dir, &capture_, &containment_, &modules_, clock_),
      host_(Parts()),
      adoption_(Parts(), [this](Instance* inst) { HandlePidfd(inst); }),
      starter_(
          Parts(), &adoption_, [this] { return PassOver(); },
          [this](Instance* inst, const os::ExitStatus& status) { OnExit(inst, status); }),
      reporter_({options_.run_dir, clock_, events_, &loop_, &table_, &modules_, &health_}) {
  state_.now = pass_began_ = clock_->MonotonicNow();
}

Supervisor::~Supervisor() {
  // Modules first: their workers may still post here until they are joined.
  modules_.clear();
  table_.ForEach([this](Instance* inst) {
    capture_.Close(&inst->out);
    capture_.Close(&inst->err);
  });
}

CoreParts Supervisor::Parts() {
  return {
      options_.run_dir, clock_,
      events_,          &loop_,
      &table_,          &watch_,
      &capture_,        &containment_,
      &launcher_,       &modules_,
      &state_,          [this](Instance* inst, Action action) { Perform(inst, action); },
  };
}

absl::Status Supervisor::Init() {
  if (options_.watchdog_interval > absl::ZeroDuration() && options_.watchdog_ping) {
    health_.watchdog_due = clock_->MonotonicNow();
  }
  FLEET_RETURN_IF_ERROR(loop_.Init(HandledSignals()));
  capture_.set_epoll(loop_.epoll_fd());
  watch_.Init();
  if (watch_.fd() >= 0) {  // Else polled. A change reaches modules, who say what it changes.
    FLEET_RETURN_IF_ERROR(loop_.Watch(
        watch_.fd(), [this] { watch_.OnReadable(state_.now); }, /*quiet=*/true));
  }
  containment_.Init(options_.use_cgroups);
  return os::MakeDirs(defaults::LogsDir(options_.run_dir), 0700);
}

// --- the loop ---

void Supervisor::Run() {
  bool timed = false;  // a pass is under way (the first begins before any wait)
  const EventLoop::Handlers handlers{[this](int sig) { OnSignal(sig); },
                                     [this](void* pipe, uint32_t events) {
                                       capture_.OnReadable(static_cast<OutputPipe*>(pipe), events);
                                     },
                                     [this, &timed] {
                                       // What the wait delivers happened now, not
                                       // when the loop last looked at the clock.
                                       state_.now = pass_began_ = clock_->MonotonicNow();
                                       starter_.NewPass();
                                       timed = true;
                                     }};
  std::optional<MonoTime> next_deadline;
  for (;;) {
    state_.now = clock_->MonotonicNow();
    // Output alone changes no state: only an exit, a timer, a command or a
    // signal makes the O(instances) passes below worth running, so a chatty
    // fleet costs a read and a write per chunk, not a scan.
    if (state_.dirty) {
      state_.dirty = false;
      Reconcile();
      if (state_.shutting_down && !table_.AnyAlive()) break;
      next_deadline = NextDeadline();
    }
    const int timeout = TimeoutMs(next_deadline);
    if (timed) health_.passes.Add(clock_->MonotonicNow() - pass_began_);
    // Commands, signals and watched descriptors change state; output does not.
    if (loop_.Wait(timeout, handlers)) state_.dirty = true;
    state_.now = clock_->MonotonicNow();
    if (next_deadline.has_value() && state_.now - *next_deadline > kStallAfter) {
      NoteStall(*next_deadline);
    }
    if (next_deadline.has_value() && *next_deadline <= state_.now) {
      health_.lag = state_.now - *next_deadline;
      health_.max_lag = std::max(health_.max_lag, health_.lag);
      RunTimers();
      state_.dirty = true;
    }
  }
  // Whatever was posted meanwhile still gets an answer; later posts are refused.
  loop_.Finish();
  for (const auto& m : modules_) m->OnLoopEnd();
  containment_.RemoveAll();
  Emit("fleetd", "stopped", "every engine is stopped");
}

void Supervisor::NoteStall(MonoTime due) {
  state_.last_stall = module::ModuleHost::Stall{due, state_.now};
  table_.ForEach([this](Instance* inst) {
    capture_.Drain(&inst->out);
    capture_.Drain(&inst->err);
  });
  Emit("fleetd", "stalled",
       absl::StrCat("the supervision loop did not run for ",
                    absl::FormatDuration(absl::Trunc(state_.now - due, absl::Milliseconds(100))),
                    " (fleetd stopped, suspended or starved of CPU): output written meanwhile was "
                    "read first, and the gap does not count against any instance's progress"));
}

std::optional<MonoTime> Supervisor::NextDeadline() const {
  std::optional<MonoTime> next;
  auto consider = [&next](const std::optional<MonoTime>& d) {
    if (d.has_value() && (!next.has_value() || *d < *next)) next = d;
  };
  consider(health_.watchdog_due);
  for (const auto& m : modules_) consider(m->NextDeadline());
  consider(containment_.sweep_due());
  consider(watch_.NextRescan());
  consider(adoption_.retry_due());
  consider(containment_.orphan_kill_due());
  consider(table_.NextDeadline());
  return next;
}

int Supervisor::TimeoutMs(std::optional<MonoTime> next) const {
  if (!next.has_value()) return -1;  // Nothing due: sleep until an fd wakes us.
  absl::Duration wait = *next - clock_->MonotonicNow();
  if (wait <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<double>(std::ceil(absl::ToDoubleMilliseconds(wait)), 1e9));
}

void Supervisor::OnSignal(int sig) {
  switch (sig) {
    case SIGCHLD:
      ReapChildren();
      break;
    case SIGTERM:
    case SIGINT:
      Shutdown(os::SignalName(sig));
      break;
    case SIGHUP:
      (void)Reload();
      break;
  }
}

void Supervisor::CheckStopFlag() {
  if (::access(defaults::StopFlag(options_.run_dir).c_str(), F_OK) != 0) return;
  ::unlink(defaults::StopFlag(options_.run_dir).c_str());
  Shutdown("stop flag");
  state_.dirty = true;
}

void Supervisor::HandlePidfd(Instance* inst) {
  if (inst->pidfd < 0) return;  // Stale event.
  loop_.Unwatch(inst->pidfd);
  ::close(inst->pidfd);
  inst->pidfd = -1;
  table_.TakePid(inst->pid);
  os::ExitStatus status;
  status.unknown = true;
  OnExit(inst, status);
  state_.dirty = true;  // An exit changes what must run, as a reaped child does.
}

void Supervisor::ReapChildren() {
  std::vector<os::Reaped> batch;
  do {
    if (!batch.empty() && PassOver()) {
      // No SIGCHLD comes again for those already exited: the next pass asks.
      loop_.Post([this] { ReapChildren(); });
      return;
    }
    batch = os::ReapExitedChildren(kReapBatch);
    for (const os::Reaped& r : batch) OnReaped(r);
  } while (batch.size() == kReapBatch);
}

void Supervisor::OnReaped(const os::Reaped& r) {
  if (std::optional<InstanceTable::OnHelperExit> helper = table_.TakeHelper(r.pid)) {
    state_.dirty = true;
    (*helper)(r.status);
    return;
  }
  // Not an instance: an exec probe (handed to whoever waits for it), an
  // orphaned grandchild handed to us as subreaper (reaping it is all), or a
  // run whose start has not reached the loop yet.
  Instance* inst = table_.TakePid(r.pid);
  if (inst == nullptr) {
    if (options_.children == nullptr || !options_.children->Deliver(r.pid, r.status)) {
      starter_.KeepUnclaimedExit(r.pid, r.status);  // Perhaps a start whose pid is on its way.
    }
    return;
  }
  OnExit(inst, r.status);
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
  containment_.EndLeftovers(inst->id, inst->engine->spec->name(), inst->index, inst->pid,
                            state_.now);
  adoption_.Forget(*inst);
  if (inst->pidfd >= 0) {  // Reaped as a child after all (cannot happen; be tidy).
    loop_.Unwatch(inst->pidfd);
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
  Action action = inst->life.Exited(state_.now, status);
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
  for (Instance* inst : table_.TakeDue(state_.now)) {
    // The reconcile after the timers starts it if the killed copy is gone.
    if (inst->dying_check_due.has_value() && *inst->dying_check_due <= state_.now) {
      inst->dying_check_due.reset();
      table_.MarkChanged(inst);
    }
    std::optional<MonoTime> d = inst->life.deadline();
    if (d.has_value() && *d <= state_.now) {
      State before = inst->life.state();
      Action action = inst->life.Tick(state_.now);
      if (before == State::kStarting && inst->life.state() == State::kRunning) {
        Emit(inst->id, "running", absl::StrCat("pid ", inst->pid));
      } else if ((before == State::kStarting || before == State::kRunning) &&
                 inst->life.state() == State::kStopping) {
        Emit(inst->id, "timed_out", inst->life.reason());  // The cycle's run timeout.
      }
      Perform(inst, action);
    }
    table_.Requeue(inst);
  }
  for (const auto& m : modules_) {
    if (std::optional<MonoTime> due = m->NextDeadline(); due.has_value() && *due <= state_.now) {
      m->OnDeadline();
    }
  }
  containment_.SweepOrphans(
      state_.now, [this](pid_t pid) { return table_.HasPid(pid); },
      [this](const std::string& engine, uint32_t index) -> pid_t {
        const Instance* inst = table_.At(engine, index);
        return inst == nullptr ? 0 : inst->pid;
      });
  if (std::optional<MonoTime> rescan = watch_.NextRescan();
      rescan.has_value() && *rescan <= state_.now) {
    watch_.Rescan(state_.now);
    CheckStopFlag();  // One there before polling began is not a change.
  }
  adoption_.RetryRecords();
  containment_.KillStubbornOrphans(state_.now);
  if (health_.watchdog_due.has_value() && *health_.watchdog_due <= state_.now) {
    options_.watchdog_ping();
    health_.watchdog_due = state_.now + options_.watchdog_interval;
  }
}

}  // namespace fleet::supervisor
