// The supervision core: one thread owns every engine and instance. Its loop
// (EventLoop) waits for signals (SIGCHLD, SIGTERM, SIGINT, SIGHUP), posted
// commands, watched files and descriptors, instances' output and the
// nearest deadline; nothing polls. On each event it drives the instances'
// lifecycles (lifecycle.h) over the process table (InstanceTable) and tells
// the feature modules (core/module/module.h), which see the core through
// CoreHost. It knows no feature by name.
#ifndef FLEET_CORE_SUPERVISOR_SUPERVISOR_H_
#define FLEET_CORE_SUPERVISOR_SUPERVISOR_H_

#include <signal.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/config/loader.h"
#include "core/module/module.h"
#include "core/os/child_waiter.h"
#include "core/os/clock.h"
#include "core/supervisor/adoption.h"
#include "core/supervisor/containment.h"
#include "core/supervisor/core_host.h"
#include "core/supervisor/event_log.h"
#include "core/supervisor/event_loop.h"
#include "core/supervisor/file_watch.h"
#include "core/supervisor/instance_table.h"
#include "core/supervisor/launcher.h"
#include "core/supervisor/lifecycle.h"
#include "core/supervisor/operator_verbs.h"
#include "core/supervisor/output_capture.h"
#include "core/supervisor/run_starter.h"
#include "core/supervisor/status_reporter.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::supervisor {

// How long one pass of the loop may take on exits and starts before it
// leaves the rest to the next pass (after one more look at everything
// else): a burst of 200 exits or 100 cron runs due at once goes through in
// many short passes, and no command, timer or exit waits behind it. A pass
// always takes on at least one batch of exits and one start, so bursts
// drain as fast as the machine can create processes.
inline constexpr absl::Duration kPassBudget = absl::Milliseconds(5);
// Exits reaped per look, between checks of the budget.
inline constexpr size_t kReapBatch = 4;

struct SupervisorOptions {
  std::string run_dir;
  os::Clock* clock = nullptr;  // Default: os::RealClock().
  EventLog* events = nullptr;  // Required; outlives the supervisor.
  // Reads the config again (SIGHUP, fleetctl reload).
  std::function<absl::StatusOr<config::LoadedConfig>()> load_config;
  // Children spawned off the loop (exec probes): their exits go there.
  os::ChildWaiter* children = nullptr;
  // systemd's watchdog (WATCHDOG_USEC): ping() is called from the loop every
  // watchdog_interval, so a wedged loop stops the pings and gets restarted.
  absl::Duration watchdog_interval = absl::ZeroDuration();
  std::function<void()> watchdog_ping;
  // A cgroup v2 group per instance where the hierarchy is writable.
  bool use_cgroups = true;
  // fleetd's descriptor limit (0: unknown): a config whose instances need
  // more is said so at every apply.
  uint64_t file_limit = 0;
};

// Thread-safety: Post() from any thread; everything else on the
// loop thread (before Run(), or inside a posted closure).
class Supervisor {
 public:
  explicit Supervisor(SupervisorOptions options);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // The signals the loop takes through its signalfd. REQUIRES: blocked in
  // every thread (block them in main() before any thread starts).
  static sigset_t HandledSignals();

  // Creates the loop's descriptors and watches the run directory.
  absl::Status Init();

  // Applies a (new) config: adds, removes, restarts and scales only what
  // changed. Returns what it did.
  fleet::control::v1::ReloadResponse Apply(const config::LoadedConfig& loaded);

  // Runs the loop until a shutdown has stopped every instance.
  void Run();

  // A feature module (core/module/module.h), called on the loop from now on.
  // Before Apply.
  void AddModule(std::unique_ptr<module::Module> module) { modules_.push_back(std::move(module)); }

  // Runs fn on the loop thread soon. Returns false (fn dropped) once the loop
  // has finished.
  bool Post(std::function<void()> fn) { return loop_.Post(std::move(fn)); }
  // The same for an operator's command, whose answer is awaited: a start it
  // makes is made before it returns (within the loop's pass budget), so the
  // answer can say how it went.
  bool PostCommand(std::function<void()> fn) {
    return loop_.Post([this, fn = std::move(fn)] {
      ++commands_running_;
      fn();
      --commands_running_;
    });
  }

  // What modules are given to see the fleet and ask of it.
  module::ModuleHost* host() { return &host_; }

  // fleetctl status (status_reporter.h): BuildStatus and AwaitStatus from
  // any thread, Status (the whole of it at once, for tests) on the loop.
  bool BuildStatus(std::function<void(fleet::control::v1::GetStatusResponse)> done) {
    return reporter_.Build(std::move(done));
  }
  // with_metrics: the modules' series too (for a scrape).
  absl::StatusOr<fleet::control::v1::GetStatusResponse> AwaitStatus(absl::Duration timeout,
                                                                    bool with_metrics = false) {
    return reporter_.Await(timeout, with_metrics);
  }

  // --- loop thread ---
  fleet::control::v1::GetStatusResponse Status() const { return reporter_.Whole(); }
  // target: "ENGINE", "ENGINE/N" or "all". kNotFound for an unknown target.
  absl::StatusOr<fleet::control::v1::ActionResponse> Act(Verb verb, const std::string& target);
  // Loads the config again and applies it; a bad config changes nothing.
  absl::StatusOr<fleet::control::v1::ReloadResponse> Reload();
  // Stops every engine in reverse dependency order; Run() then returns.
  void Shutdown(const std::string& why);
  // The live log file of each instance targets name ("ENGINE/N", "ENGINE"
  // for every replica, "all"), by instance id. kNotFound for an unknown one.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> LogPaths(
      const std::vector<std::string>& targets);

 private:
  // What CoreHost and Adoption work over.
  CoreParts Parts();
  void OnSignal(int sig);
  // The stop flag file exists: it is removed and fleetd shuts down.
  void CheckStopFlag();
  // An adopted process's pidfd became readable: it is gone.
  void HandlePidfd(Instance* inst);
  // kPassBudget spent (a pass takes on at least one start and one batch).
  bool PassOver() const { return clock_->MonotonicNow() - pass_began_ >= kPassBudget; }
  // Reaps and handles exits, kReapBatch at a time, until none is left or the
  // pass is over; the rest are reaped in the next pass.
  void ReapChildren();
  void OnReaped(const os::Reaped& reaped);
  void OnExit(Instance* inst, const os::ExitStatus& status);
  void RunTimers();
  void Reconcile();
  // A cron or intelligence instance between runs: IDLE (the scheduler
  // module starts it), or WAITING for what it depends on.
  void ReconcileScheduled(Instance* inst, const std::string& unmet);
  void ReconcileShutdown();
  void Perform(Instance* inst, Action action);
  // Every module lets inst start now (SpawnGate); else it WAITs, gated.
  bool SpawnGatesOpen(Instance* inst);
  // Watched files: rebuilds what is watched; cheap to call, does the work
  // only after rewatch_.
  void WatchFiles();
  void OnWatchedFileChanged(const std::string& path, bool complete);
  // sig to inst's run (its process group; in cgroups, every member).
  void SignalInstance(const Instance& inst, int sig);
  // The earliest deadline (O(instances)), and it as an epoll timeout.
  std::optional<MonoTime> NextDeadline() const;
  int TimeoutMs(std::optional<MonoTime> next) const;
  // A loop woken this late past its deadline was not running: drain every
  // pipe first (output written meanwhile is progress), and remember the gap.
  void NoteStall(MonoTime due);

  void Emit(const std::string& subject, const std::string& kind, const std::string& message) {
    events_->Add(subject, kind, message);
  }

  std::vector<std::unique_ptr<module::Module>> modules_;

  SupervisorOptions options_;
  os::Clock* clock_;
  EventLog* events_;

  EventLoop loop_;
  InstanceTable table_;
  // The files modules watch, and the stop flag.
  FileWatch watch_;
  // Instances' stdout and stderr, into their logs and on to the modules.
  OutputCapture capture_;
  // Nothing an instance started outlives it (cgroups or process groups).
  Containment containment_;
  Launcher launcher_;
  int commands_running_ = 0;  // PostCommand's closures under way

  // The loop's own health (lateness, pass times, the watchdog's ping).
  LoopHealth health_;
  // When the wait of the pass under way ended.
  MonoTime pass_began_;
  // Now, shutting down, dirty, rewatch, the last stall: read by the host.
  // Progress is judged only on time fleetd was watching, so a stall does
  // not count as idle.
  LoopState state_;
  CoreHost host_;
  // Pid records, and the instances a previous fleetd left running.
  Adoption adoption_;
  // Runs are started off the loop.
  RunStarter starter_;
  StatusReporter reporter_;
};

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_SUPERVISOR_H_
