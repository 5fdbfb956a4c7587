#include "core/supervisor/lifecycle.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/proto_time/proto_time.h"
#include "google/protobuf/duration.pb.h"

namespace fleet::supervisor {
namespace {

namespace v1 = ::fleet::config::v1;

std::string Millis(absl::Duration d) {
  return absl::FormatDuration(absl::Trunc(d, absl::Milliseconds(1)));
}

}  // namespace

const char* StateName(State state) {
  switch (state) {
    case State::kStopped:
      return "STOPPED";
    case State::kWaiting:
      return "WAITING";
    case State::kStarting:
      return "STARTING";
    case State::kRunning:
      return "RUNNING";
    case State::kBackoff:
      return "BACKOFF";
    case State::kStopping:
      return "STOPPING";
    case State::kExited:
      return "EXITED";
    case State::kFatal:
      return "FATAL";
    case State::kKilled:
      return "KILLED";
    case State::kIdle:
      return "IDLE";
  }
  return "?";
}

const char* RestartCauseName(RestartCause cause) {
  switch (cause) {
    case RestartCause::kExit:
      return "exit";
    case RestartCause::kSignal:
      return "signal";
    case RestartCause::kUnhealthy:
      return "unhealthy";
    case RestartCause::kTimeout:
      return "timeout";
    case RestartCause::kOperator:
      return "operator";
    case RestartCause::kConfig:
      return "config";
    case RestartCause::kReplaced:
      return "replaced";
    case RestartCause::kSpawnFailed:
      return "spawn_failed";
  }
  return "exit";
}

LifecyclePolicy LifecyclePolicy::FromEngine(const v1::Engine& e) {
  LifecyclePolicy p;
  p.restart = e.restart();
  p.min_uptime = FromProto(e.min_uptime());
  p.backoff = Backoff::FromConfig(e.backoff());
  p.reset_after = FromProto(e.backoff().reset_after());
  p.max_failures = e.crash_loop().max_failures();
  p.failure_window = FromProto(e.crash_loop().window());
  p.grace = FromProto(e.stop().grace());
  p.cycle_interval = FromProto(e.cycle().interval());
  p.scheduled = e.type() != v1::ENGINE_TYPE_DAEMON;
  p.run_timeout = FromProto(p.scheduled ? e.timeout() : e.cycle().timeout());
  return p;
}

Lifecycle::Lifecycle(LifecyclePolicy policy, std::function<double()> random01)
    : policy_(policy), random01_(std::move(random01)) {}

bool Lifecycle::HasProcess() const {
  return state_ == State::kStarting || state_ == State::kRunning || state_ == State::kStopping;
}

bool Lifecycle::Pending() const {
  return state_ == State::kBackoff || state_ == State::kWaiting || state_ == State::kIdle;
}

Action Lifecycle::Start(MonoTime /*now*/) {
  Notify notify(this);
  switch (state_) {
    case State::kStarting:
    case State::kRunning:
    case State::kStopping:
      return Action::kNone;
    case State::kExited:
    case State::kFatal:
    case State::kKilled:
      consecutive_failures_ = 0;
      recent_failures_.clear();
      [[fallthrough]];
    case State::kStopped:
    case State::kWaiting:
    case State::kBackoff:
    case State::kIdle:
      deadline_.reset();
      return Action::kSpawn;
  }
  return Action::kNone;
}

void Lifecycle::Wait(std::string reason) {
  Notify notify(this);
  if (HasProcess()) return;
  state_ = State::kWaiting;
  deadline_.reset();
  reason_ = std::move(reason);
}

void Lifecycle::Idle(std::string reason) {
  Notify notify(this);
  if (HasProcess()) return;
  state_ = State::kIdle;
  deadline_.reset();
  reason_ = std::move(reason);
}

void Lifecycle::Defer(MonoTime now) {
  Notify notify(this);
  if (HasProcess()) return;
  if (state_ != State::kBackoff) {
    reason_ = "queued to start (more starts were due at once than one pass of the loop takes on)";
  }
  state_ = State::kBackoff;
  deadline_ = now;
}

void Lifecycle::Spawned(MonoTime now) {
  Notify notify(this);
  state_ = State::kStarting;
  spawned_at_ = now;
  kill_sent_ = false;
  timed_out_ = false;
  killed_ = false;
  fail_after_stop_ = false;
  restart_after_stop_ = false;
  deadline_ = now + policy_.min_uptime;
  run_deadline_.reset();
  if (policy_.run_timeout > absl::ZeroDuration()) {
    run_deadline_ = now + policy_.run_timeout;
    deadline_ = std::min(*deadline_, *run_deadline_);
  }
  reason_ = "starting";
}

void Lifecycle::Adopted(MonoTime now, absl::Duration up) {
  Notify notify(this);
  Spawned(now - up);
  if (up >= policy_.min_uptime) {
    state_ = State::kRunning;
    deadline_ = run_deadline_;
  }
  reason_ = "adopted after a fleetd restart";
}

std::optional<absl::Duration> Lifecycle::Fail(MonoTime now, const std::string& what,
                                              RestartCause cause) {
  ++consecutive_failures_;
  // Only the last max_failures times can matter: the deque stays bounded even
  // for an instance that fails forever.
  if (policy_.max_failures > 0) {
    recent_failures_.push_back(now);
    while (recent_failures_.size() > policy_.max_failures ||
           (!recent_failures_.empty() && now - recent_failures_.front() > policy_.failure_window)) {
      recent_failures_.pop_front();
    }
  }
  if (policy_.max_failures > 0 && recent_failures_.size() >= policy_.max_failures) {
    state_ = State::kFatal;
    deadline_.reset();
    reason_ = absl::StrCat("crash loop: ", recent_failures_.size(), " failures within ",
                           absl::FormatDuration(policy_.failure_window), "; last: ", what);
    return std::nullopt;
  }
  absl::Duration delay = policy_.backoff.Delay(consecutive_failures_, random01_());
  CountRestart(cause);
  last_restart_reason_ = what;
  state_ = State::kBackoff;
  deadline_ = now + delay;
  reason_ = absl::StrCat(what, "; restart in ",
                         absl::FormatDuration(absl::Trunc(delay, absl::Milliseconds(1))));
  return delay;
}

Action Lifecycle::RunEnded(MonoTime now, bool ok, const std::string& what, RestartCause cause) {
  run_deadline_.reset();
  deadline_.reset();
  if (ok) {
    consecutive_failures_ = 0;
    recent_failures_.clear();
    state_ = State::kIdle;
    reason_ = absl::StrCat("last run succeeded in ", Millis(now - spawned_at_));
    return Action::kNone;
  }
  if (policy_.restart != v1::RESTART_POLICY_NEVER) {
    std::optional<absl::Duration> delay = Fail(now, what, cause);
    if (delay.has_value()) return *delay <= absl::ZeroDuration() ? Action::kSpawn : Action::kNone;
    // The crash-loop limit: this slot is given up, the schedule goes on.
    reason_ = absl::StrCat("last run failed: ", what, " (gave up after ", recent_failures_.size(),
                           " tries; next run on schedule)");
    consecutive_failures_ = 0;
    recent_failures_.clear();
  } else {
    reason_ = absl::StrCat("last run failed: ", what);
  }
  state_ = State::kIdle;
  return Action::kNone;
}

void Lifecycle::SpawnFailed(MonoTime now, const std::string& error) {
  Notify notify(this);
  // A program that cannot start (missing binary, bad cwd) is not a crash that a
  // quick retry may fix: wait at least kSpawnRetryFloor, so a zero backoff
  // never spins fleetd.
  std::optional<absl::Duration> delay = Fail(now, error, RestartCause::kSpawnFailed);
  if (!delay.has_value() && policy_.scheduled) {
    state_ = State::kIdle;
    reason_ = absl::StrCat("cannot start: ", error, " (gave up; next run on schedule)");
    consecutive_failures_ = 0;
    recent_failures_.clear();
    return;
  }
  if (delay.has_value() && *delay < kSpawnRetryFloor) {
    deadline_ = now + kSpawnRetryFloor;
    reason_ = absl::StrCat(error, "; retry in ", absl::FormatDuration(kSpawnRetryFloor));
  }
}

Action Lifecycle::Exited(MonoTime now, const os::ExitStatus& status) {
  Notify notify(this);
  const std::string what = status.Describe();
  const RestartCause exit_cause = status.signaled ? RestartCause::kSignal : RestartCause::kExit;
  if (state_ == State::kStopping) {
    deadline_.reset();
    if (fail_after_stop_) {
      fail_after_stop_ = false;
      if (now - spawned_at_ >= policy_.reset_after) {
        // Healthy for a long while before this: the streak starts over.
        consecutive_failures_ = 0;
        recent_failures_.clear();
      }
      if (policy_.scheduled) {
        return RunEnded(now, false, absl::StrCat(reason_, " (", what, ")"), stop_cause_);
      }
      std::optional<absl::Duration> delay = Fail(now, reason_, stop_cause_);
      if (delay.has_value() && *delay <= absl::ZeroDuration()) return Action::kSpawn;
      return Action::kNone;
    }
    if (killed_) {
      killed_ = false;
      restart_after_stop_ = false;
      state_ = State::kKilled;
      reason_ = absl::StrCat(reason_, " (", what, ")");
      return Action::kNone;
    }
    state_ = State::kStopped;
    if (restart_after_stop_) {
      restart_after_stop_ = false;
      consecutive_failures_ = 0;
      last_restart_reason_ = reason_;
      reason_ = absl::StrCat(reason_, "; restarted after it ", what);
      CountRestart(stop_cause_);
      return Action::kSpawn;
    }
    reason_ = absl::StrCat("stopped: ", reason_, " (", what, ")");
    return Action::kNone;
  }
  if (!HasProcess()) return Action::kNone;  // Not ours to judge; ignore.
  if (policy_.scheduled) return RunEnded(now, status.Success(), what, exit_cause);
  const absl::Duration ran = now - spawned_at_;
  // A long run forgets the crash loop too; a stable one (below) the backoff.
  if (ran >= policy_.reset_after) recent_failures_.clear();
  if (policy_.cycle_interval > absl::ZeroDuration() && status.Success()) {
    // A cycle ran to completion: the normal case, not a failure.
    consecutive_failures_ = 0;
    state_ = State::kIdle;
    deadline_ = now + policy_.cycle_interval;
    reason_ = absl::StrCat("cycle done in ", Millis(now - spawned_at_), "; next in ",
                           Millis(policy_.cycle_interval));
    return Action::kNone;
  }
  const bool restart = policy_.restart == v1::RESTART_POLICY_ALWAYS ||
                       (policy_.restart == v1::RESTART_POLICY_ON_FAILURE && !status.Success());
  if (!restart) {
    state_ = State::kExited;
    deadline_.reset();
    reason_ = what;
    return Action::kNone;
  }
  if (policy_.cycle_interval == absl::ZeroDuration() && Stable(ran)) {
    // A death after a stable run (an OOM kill after hours of work, a
    // worker killed by something else every few seconds) is not a crash
    // loop: restarted at once, the backoff and the crash-loop count start
    // over. Only unstable runs back off and count.
    consecutive_failures_ = 0;
    CountRestart(exit_cause);
    last_restart_reason_ = what;
    state_ = State::kBackoff;
    deadline_ = now;
    reason_ = absl::StrCat(what, " after ", Millis(ran), " up (a stable run): restarted at once");
    return Action::kSpawn;
  }
  std::optional<absl::Duration> delay = Fail(now, what, exit_cause);
  if (delay.has_value() && *delay <= absl::ZeroDuration()) return Action::kSpawn;
  return Action::kNone;
}

Action Lifecycle::Stop(MonoTime now, std::string reason) {
  Notify notify(this);
  restart_after_stop_ = false;
  fail_after_stop_ = false;
  switch (state_) {
    case State::kStarting:
    case State::kRunning:
      state_ = State::kStopping;
      reason_ = std::move(reason);
      kill_sent_ = false;
      deadline_ = now + policy_.grace;
      return Action::kSendStopSignal;
    case State::kBackoff:
    case State::kWaiting:
    case State::kIdle:
      state_ = State::kStopped;
      deadline_.reset();
      reason_ = absl::StrCat("stopped: ", reason);
      return Action::kNone;
    case State::kStopping:
    case State::kStopped:
    case State::kExited:
    case State::kFatal:
    case State::kKilled:
      return Action::kNone;
  }
  return Action::kNone;
}

Action Lifecycle::Kill(MonoTime now, std::string reason) {
  Notify notify(this);
  if (state_ == State::kKilled) return Action::kNone;
  if (state_ == State::kStopping) {
    killed_ = true;
    restart_after_stop_ = false;
    reason_ = std::move(reason);
    return Action::kNone;
  }
  Action action = Stop(now, reason);
  if (state_ == State::kStopping) {
    killed_ = true;
  } else {
    state_ = State::kKilled;
    reason_ = std::move(reason);
  }
  return action;
}

Action Lifecycle::FailAndRestart(MonoTime now, std::string reason, RestartCause cause) {
  Notify notify(this);
  if (state_ != State::kStarting && state_ != State::kRunning) return Action::kNone;
  Action action = Stop(now, std::move(reason));
  fail_after_stop_ = true;
  stop_cause_ = cause;
  return action;
}

Action Lifecycle::Restart(MonoTime now, std::string reason, RestartCause cause) {
  Notify notify(this);
  if (state_ == State::kStarting || state_ == State::kRunning) {
    Action action = Stop(now, std::move(reason));
    restart_after_stop_ = true;
    stop_cause_ = cause;
    return action;
  }
  if (state_ == State::kStopping) {
    restart_after_stop_ = true;
    stop_cause_ = cause;
    return Action::kNone;
  }
  return Start(now);
}

void Lifecycle::Reset(std::string reason) {
  Notify notify(this);
  if (HasProcess()) return;
  state_ = State::kStopped;
  deadline_.reset();
  consecutive_failures_ = 0;
  recent_failures_.clear();
  reason_ = std::move(reason);
}

Action Lifecycle::Tick(MonoTime now) {
  Notify notify(this);
  if (!deadline_.has_value() || now < *deadline_) return Action::kNone;
  if (run_deadline_.has_value() && now >= *run_deadline_ &&
      (state_ == State::kStarting || state_ == State::kRunning)) {
    run_deadline_.reset();
    timed_out_ = true;
    return FailAndRestart(now, absl::StrCat("run timed out after ", Millis(policy_.run_timeout)),
                          RestartCause::kTimeout);
  }
  switch (state_) {
    case State::kStarting:
      state_ = State::kRunning;
      deadline_ = run_deadline_;
      reason_ = "running";
      return Action::kNone;
    case State::kBackoff:
    case State::kIdle:
      deadline_.reset();
      return Action::kSpawn;
    case State::kStopping:
      deadline_.reset();
      if (kill_sent_) return Action::kNone;
      kill_sent_ = true;
      reason_ = absl::StrCat(reason_, "; grace ", absl::FormatDuration(policy_.grace),
                             " over, sent SIGKILL");
      return Action::kKill;
    default:
      deadline_.reset();
      return Action::kNone;
  }
}

}  // namespace fleet::supervisor
