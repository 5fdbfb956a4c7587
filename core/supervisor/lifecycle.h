// One instance's lifecycle as an explicit state machine (s6's state x event
// table): pure, no syscalls; the supervisor loop feeds it events with the
// monotonic time and carries out the Action it returns.
#ifndef FLEET_CORE_SUPERVISOR_LIFECYCLE_H_
#define FLEET_CORE_SUPERVISOR_LIFECYCLE_H_

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "core/backoff/backoff.h"
#include "core/os/clock.h"
#include "core/os/process.h"
#include "proto/fleet/config/v1/config.pb.h"

namespace fleet::supervisor {

using os::MonoTime;

enum class State {
  kStopped,
  kWaiting,
  kStarting,
  kRunning,
  kBackoff,
  kStopping,
  kExited,
  kFatal,
  // Stopped for good by its kill condition; only the operator starts it again.
  kKilled,
  // A cycle engine between runs: the last one succeeded, the next is due.
  kIdle,
};
const char* StateName(State state);

// What the loop must do after an event.
enum class Action { kNone, kSpawn, kSendStopSignal, kKill };

// Why a run was started again (fleet_instance_restarts_total{reason}).
enum class RestartCause {
  kExit,         // it exited by itself (or its exit was not seen: adopted)
  kSignal,       // a signal killed it (not one fleet sent)
  kUnhealthy,    // its health check failed
  kTimeout,      // it ran past run_timeout
  kOperator,     // fleetctl restart
  kConfig,       // its definition changed
  kReplaced,     // a new run took its place (overlap: replace)
  kSpawnFailed,  // it could not be started: tried again
};
inline constexpr int kRestartCauses = 8;
// "exit", "signal", "unhealthy", "timeout", "operator", "config",
// "replaced", "spawn_failed".
const char* RestartCauseName(RestartCause cause);

// Read from a validated engine: core/config fills in every default, so no
// number here is a default of its own.
struct LifecyclePolicy {
  fleet::config::v1::RestartPolicy restart = fleet::config::v1::RESTART_POLICY_ALWAYS;
  absl::Duration min_uptime;
  Backoff backoff;
  absl::Duration reset_after;
  uint32_t max_failures = 0;  // 0: never give up
  absl::Duration failure_window;
  absl::Duration grace;
  // Cycle engines: a run that exits 0 is followed by the next one after
  // cycle_interval (IDLE in between; not a failure). Zero: not a cycle engine.
  absl::Duration cycle_interval = absl::ZeroDuration();
  // A run still going after this is stopped and counts as failed. Zero: none.
  absl::Duration run_timeout = absl::ZeroDuration();
  // Cron and intelligence engines: every run ends in IDLE with no deadline,
  // and the scheduler (not the lifecycle) starts the next one. A failed run
  // is retried per the restart policy with backoff; past the crash-loop
  // limit it waits for its next slot instead of going FATAL.
  bool scheduled = false;

  // From a validated engine (defaults filled in).
  static LifecyclePolicy FromEngine(const fleet::config::v1::Engine& engine);
};

// The shortest wait before retrying a spawn that failed.
inline constexpr absl::Duration kSpawnRetryFloor = absl::Seconds(1);

// A run is stable once it has been up min_uptime (it reached RUNNING) and at
// least this long: a min_uptime of zero must not make a worker that dies
// at once restart in a tight loop.
inline constexpr absl::Duration kStableRunFloor = absl::Seconds(1);

// Not thread-safe: supervisor thread only.
class Lifecycle {
 public:
  Lifecycle(LifecyclePolicy policy, std::function<double()> random01);

  // The operator (or boot) wants it running; dependencies are met.
  // STOPPED/WAITING/EXITED/FATAL/BACKOFF -> kSpawn. FATAL and EXITED start with
  // a clean failure history.
  Action Start(MonoTime now);
  // Wanted, but the engines it depends on are not running yet.
  void Wait(std::string reason);
  // Scheduled engines: between runs, the scheduler will start the next
  // (IDLE with no deadline). No-op while a process exists.
  void Idle(std::string reason);
  // The spawn succeeded: STARTING until min_uptime has passed.
  void Spawned(MonoTime now);
  // A spawn it was due is put off to the loop's next pass (more were due at
  // once than one pass of the loop takes on: Supervisor's kPassBudget): BACKOFF, due at once, a
  // failure of nothing. No-op while a process exists.
  void Defer(MonoTime now);
  // A process this fleetd did not spawn (a previous fleetd did, and died) is
  // taken back, up for `up` already: RUNNING, or STARTING until min_uptime.
  void Adopted(MonoTime now, absl::Duration up);
  // The spawn failed: counts as a failure (BACKOFF, at least kSpawnRetryFloor,
  // or FATAL past the limit).
  void SpawnFailed(MonoTime now, const std::string& error);
  // The main process exited. May return kSpawn (restart with no delay).
  // A daemon that dies after a stable run (up min_uptime and at least
  // kStableRunFloor) restarts at once and its backoff starts over; one that
  // dies sooner backs off, the delay growing over consecutive unstable
  // runs, and counts toward the crash-loop limit.
  Action Exited(MonoTime now, const os::ExitStatus& status);
  // Stop it: STARTING/RUNNING -> STOPPING (kSendStopSignal); BACKOFF/WAITING/IDLE -> STOPPED.
  Action Stop(MonoTime now, std::string reason);
  // Its kill condition holds: stop it (as Stop) and end in KILLED, never
  // restarted until Start/Reset. BACKOFF/WAITING go to KILLED at once.
  Action Kill(MonoTime now, std::string reason);
  // Stop, then start again at once when it has exited.
  Action Restart(MonoTime now, std::string reason, RestartCause cause);
  // Stop it because it failed while running (unhealthy): once it has exited
  // this counts as a failure, with backoff and the crash-loop limit, like a
  // crash (Kubernetes treats liveness failures the same way).
  Action FailAndRestart(MonoTime now, std::string reason, RestartCause cause);
  // The deadline has passed: STARTING -> RUNNING; BACKOFF/IDLE -> kSpawn;
  // STOPPING -> kKill; a run past run_timeout is stopped as a failure.
  Action Tick(MonoTime now);
  // Forget a finished run (EXITED, FATAL, BACKOFF, ...) so the instance can be
  // started again with a clean failure history. No-op while a process exists.
  void Reset(std::string reason);
  // Replace the policy (reload); takes effect from the next event.
  void SetPolicy(LifecyclePolicy policy) { policy_ = policy; }
  // Told as every event ends (Start, Exited, Tick, Reset, ...): the process
  // table keeps deadlines in order and reconciles what had an event, instead
  // of asking every instance on every pass.
  void set_observer(std::function<void()> observer) { observer_ = std::move(observer); }

  State state() const { return state_; }
  // When Tick must be called next, if ever.
  std::optional<MonoTime> deadline() const { return deadline_; }
  const std::string& reason() const { return reason_; }
  uint32_t restarts() const { return restarts_; }
  uint32_t restarts(RestartCause cause) const {
    return restarts_by_cause_[static_cast<int>(cause)];
  }
  // Why it was last restarted ("killed by SIGKILL", "unhealthy: log stale
  // 21m > 20m"), kept while the new process runs. Empty before any restart.
  const std::string& last_restart_reason() const { return last_restart_reason_; }
  // True while a process exists (STARTING, RUNNING, STOPPING).
  bool HasProcess() const;
  // No process, but one will start by itself (BACKOFF, WAITING, IDLE).
  bool Pending() const;
  MonoTime spawned_at() const { return spawned_at_; }
  // The last run was stopped because it passed run_timeout.
  bool timed_out() const { return timed_out_; }

 private:
  bool Stable(absl::Duration ran) const {
    return ran >= policy_.min_uptime && ran >= kStableRunFloor;
  }
  // Each event's first line: tells the observer as the event ends, whichever
  // return it takes.
  class Notify {
   public:
    explicit Notify(Lifecycle* life) : life_(life) {}
    ~Notify() {
      if (life_->observer_) life_->observer_();
    }
    Notify(const Notify&) = delete;
    Notify& operator=(const Notify&) = delete;

   private:
    Lifecycle* const life_;
  };
  // Records a failure; returns the restart delay, or nullopt when FATAL.
  std::optional<absl::Duration> Fail(MonoTime now, const std::string& what, RestartCause cause);
  // A scheduled run has ended (ok: exit 0).
  Action RunEnded(MonoTime now, bool ok, const std::string& what, RestartCause cause);
  void CountRestart(RestartCause cause) {
    ++restarts_;
    ++restarts_by_cause_[static_cast<int>(cause)];
  }

  LifecyclePolicy policy_;
  std::function<double()> random01_;
  State state_ = State::kStopped;
  std::optional<MonoTime> deadline_;
  std::function<void()> observer_;
  std::string reason_ = "not started";
  std::string last_restart_reason_;
  uint32_t restarts_ = 0;
  std::array<uint32_t, kRestartCauses> restarts_by_cause_{};
  // Why the stop under way restarts it (Restart, FailAndRestart).
  RestartCause stop_cause_ = RestartCause::kOperator;
  uint32_t consecutive_failures_ = 0;
  std::deque<MonoTime> recent_failures_;
  MonoTime spawned_at_;
  // When the current run's run_timeout expires.
  std::optional<MonoTime> run_deadline_;
  bool restart_after_stop_ = false;
  bool killed_ = false;           // The stop in progress ends in KILLED.
  bool fail_after_stop_ = false;  // ... or counts as a failure.
  bool kill_sent_ = false;
  bool timed_out_ = false;
};

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_LIFECYCLE_H_
