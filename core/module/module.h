// A feature of the supervisor behind one small interface, the way Envoy's
// filters and containerd's plugins meet their core: the core keeps the
// loop, the process table and the lifecycle; a module registers with it
// (one line in core/daemon/modules.cc), owns its own state, per instance
// too (keyed by InstanceView::id), and is called on the loop at the points
// below. A module never blocks the loop: file, Git, plugin and network
// work goes to a worker thread it owns, and the answer comes back through
// ModuleHost::Post. Deleting its folder and its registration line removes
// it.
//
// Lifecycle: constructed with the host before the loop starts; OnConfig
// for the first config and every reload; OnInstanceAdded / OnSpawned (or
// OnAdopted) / OnExit / OnInstanceRemoved as instances and their processes
// come and go; OnOutput for every chunk an instance writes; OnFileChanged
// for the files it asked to be watched; OnDeadline whenever the loop passes
// NextDeadline(); destroyed after the loop has ended (a worker it owns is
// joined in its destructor).
#ifndef FLEET_CORE_MODULE_MODULE_H_
#define FLEET_CORE_MODULE_MODULE_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/capture/log_sink.h"
#include "core/capture/record.h"
#include "core/config/loader.h"
#include "core/os/clock.h"
#include "core/os/process.h"
#include "proto/fleet/config/v1/config.pb.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::module {

// One instance, as a module sees it: valid for the call it is passed to.
struct InstanceView {
  const std::string& id;  // "ENGINE/N"
  const fleet::config::v1::Engine& spec;
  uint32_t index;
  pid_t pid;  // 0 when no process runs
  // A start is under way (made off the loop): pid follows, and OnSpawned.
  bool starting;
  capture::LogSink& log;
  // Its process runs and is not being stopped: what checks and conditions
  // judge (a process on its way out is judged no more).
  bool live;
  os::MonoTime spawned_at;  // of its current (or last) process
  absl::Time started_wall;  // the same on the wall clock
  fleet::control::v1::InstanceState state;
  // The operator or the config wants it running (not stopped, not retiring).
  bool wanted;
  // Health's last verdict was unhealthy.
  bool unhealthy;
  // What the lifecycle says of it ("restart in 2s", "stopped by the
  // operator"), and whether its last run was stopped at its timeout.
  const std::string& reason;
  bool timed_out;
};

// What a module may ask of the core. Loop thread only, except Post.
class ModuleHost {
 public:
  // The loop's time (read as it woke), and the wall clock.
  virtual os::MonoTime Now() const = 0;
  virtual absl::Time WallNow() const = 0;
  // The clock itself, for a fresh reading.
  virtual os::Clock* clock() const = 0;
  // fleetd is stopping every engine.
  virtual bool shutting_down() const = 0;
  virtual const std::string& run_dir() const = 0;
  // An event for `fleetctl events` and fleetd's log (from any thread).
  virtual void Emit(const std::string& subject, const std::string& kind,
                    const std::string& message) = 0;
  // Runs fn on the loop (from any thread); false once the loop has ended.
  virtual bool Post(std::function<void()> fn) = 0;
  // Every instance of the fleet (retired ones included until they go).
  virtual void ForEachInstance(const std::function<void(const InstanceView&)>& fn) = 0;
  // The engine named so, or null.
  virtual const fleet::config::v1::Engine* FindEngine(const std::string& name) const = 0;
  // The instances a target names ("ENGINE/N", "ENGINE" for every replica,
  // "all"), by id; kNotFound for an unknown one.
  virtual absl::StatusOr<std::vector<std::string>> ResolveTarget(const std::string& target) = 0;
  // Calls fn with the instance "ENGINE/N"; false (fn not called) when there
  // is none.
  virtual bool WithInstance(const std::string& id,
                            const std::function<void(const InstanceView&)>& fn) = 0;

  // Starting a scheduled run (or the process of a waiting instance) now;
  // stopping it (it stays stopped until started again); restarting it;
  // IDLE instead of a retry after its run (a rate limit). No-ops where the
  // lifecycle does not allow them. A restart here is counted as "replaced"
  // (a new run takes the place of the current one).
  virtual void Start(const std::string& id) = 0;
  virtual void Stop(const std::string& id, const std::string& reason) = 0;
  virtual void Restart(const std::string& id, const std::string& reason) = 0;
  virtual void Idle(const std::string& id, const std::string& reason) = 0;
  // A helper process for an instance (a judge): spawned as fleetd's child,
  // its exit handed to on_exit on the loop. The instance is not removed,
  // nor fleetd's shutdown finished, while a helper runs (at shutdown it is
  // SIGKILLed: not worth waiting for).
  virtual absl::StatusOr<pid_t> SpawnHelper(const std::string& id, const os::SpawnSpec& spec,
                                            std::function<void(const os::ExitStatus&)> on_exit) = 0;
  // fleetd wrote a file on an instance's behalf: every module hears of it
  // (OnDelivered).
  virtual void NoteDelivered(const std::string& id, const std::string& path,
                             const std::string& what) = 0;
  // Acting on a live instance (no-ops otherwise): kill it, and keep it
  // stopped until the operator starts it; or restart it as a failure (it
  // counts toward backoff and the crash loop, and as an "unhealthy" restart).
  virtual void Kill(const std::string& id, const std::string& reason) = 0;
  virtual void FailAndRestart(const std::string& id, const std::string& reason) = 0;
  // Health's verdict, for what depends on the instance (dependent engines
  // wait, the work-bus routes no task to it).
  virtual void SetUnhealthy(const std::string& id, bool unhealthy) = 0;
  // A WAITING instance's reason changes (a gate's retry, say); no-op otherwise.
  virtual void SetWaiting(const std::string& id, const std::string& why) = 0;
  // The environment the instance's process gets (for probes run like it).
  virtual std::vector<std::string> ChildEnvironment(const std::string& id) const = 0;

  // Calls on_readable on the loop whenever fd is readable, for as long as
  // the host lives (the module keeps fd open). False: it cannot be watched.
  virtual bool WatchFd(int fd, std::function<void()> on_readable) = 0;

  // The files modules watch may have changed: WatchedFiles is asked again.
  virtual void Rewatch() = 0;
  // When path last changed on the monotonic clock (first sight: its mtime
  // placed there once); nullopt: never seen.
  virtual std::optional<os::MonoTime> FileChangedAt(const std::string& path) const = 0;
  // The last span the loop did not run (fleetd stopped, suspended, starved):
  // nobody's idleness. nullopt: none yet.
  struct Stall {
    os::MonoTime start;
    os::MonoTime end;
  };
  virtual std::optional<Stall> LastStall() const = 0;

 protected:
  ~ModuleHost() = default;
};

class Module {
 public:
  virtual ~Module() = default;
  // Short and lower-case ("log_hygiene"): in errors and notes.
  virtual absl::string_view name() const = 0;

  // A reload is refused (the running config stays) when a module cannot
  // take it live; the error says why. Asked before OnConfig.
  virtual absl::Status CheckReload(const config::LoadedConfig& loaded) const {
    return absl::OkStatus();
  }
  // A config was applied (the first, or a reload that changed anything).
  virtual void OnConfig(const config::LoadedConfig& loaded) {}
  // An instance was created (at start, scale-up or a new engine).
  virtual void OnInstanceAdded(const InstanceView& inst) {}
  // Its process could not be started, and why.
  virtual void OnSpawnFailed(const InstanceView& inst, const std::string& why) {}
  // It left the fleet (scaled down, engine removed): forget it.
  virtual void OnInstanceRemoved(const std::string& id) {}
  // It is about to start: nullopt lets it; a reason makes it WAIT (asked
  // again whenever the loop reconciles; "" keeps the reason it waits with).
  virtual std::optional<std::string> SpawnGate(const InstanceView& inst) { return std::nullopt; }
  // An fd for its stdout instead of the captured log (an answer file);
  // -1: the log. The first module with one wins; the core closes it.
  virtual int OpenStdout(const InstanceView& inst) { return -1; }
  // Variables its process gets on top of the engine's.
  virtual void AddEnvironment(const InstanceView& inst,
                              std::map<std::string, std::string>* env) const {}
  // Its process started.
  virtual void OnSpawned(const InstanceView& inst) {}
  // A process a previous fleetd started was taken back, up this long.
  virtual void OnAdopted(const InstanceView& inst, absl::Duration up) { OnSpawned(inst); }
  // fleetd wrote a file on its behalf (an accepted answer delivered to
  // path); what: a one-line account (a commit message).
  virtual void OnDelivered(const InstanceView& inst, const std::string& path,
                           const std::string& what) {}
  // It wrote this (a chunk as read, not a line) to stdout or stderr.
  virtual void OnOutput(const InstanceView& inst, capture::Stream stream, absl::string_view data) {}
  // The files it wants watched (asked after a config, instances coming or
  // going, and Rewatch()).
  virtual void WatchedFiles(std::vector<std::string>* paths) const {}
  // A watched file changed. complete: its writer closed it, or it was
  // renamed into place (or events were lost: look again).
  virtual void OnFileChanged(const std::string& path, bool complete) {}
  // Health turned it unhealthy, or healthy again (InstanceView::unhealthy).
  virtual void OnHealthChanged(const InstanceView& inst) {}
  // Its process ended, and how: OnExit before the lifecycle takes the exit,
  // OnExited after (inst's state and reason are then what comes next).
  virtual void OnExit(const InstanceView& inst, const os::ExitStatus& status) {}
  virtual void OnExited(const InstanceView& inst, const os::ExitStatus& status) {}
  // When OnDeadline is next wanted; nullopt: not until something changes.
  virtual std::optional<os::MonoTime> NextDeadline() const { return std::nullopt; }
  // The loop passed NextDeadline().
  virtual void OnDeadline() {}
  // The loop has ended (every instance is stopped): last writes.
  virtual void OnLoopEnd() {}
  // Adds what it knows to a status answer, and to one instance's in it.
  virtual void FillStatus(fleet::control::v1::GetStatusResponse* status) const {}
  virtual void FillInstanceStatus(const InstanceView& inst,
                                  fleet::control::v1::InstanceStatus* out) const {}
  // Adds its series (counters, histograms) to status->metrics, for a
  // scrape or `fleetctl metrics` (not for every status: they can be many).
  virtual void FillMetrics(fleet::control::v1::GetStatusResponse* status) const {}
};

}  // namespace fleet::module

#endif  // FLEET_CORE_MODULE_MODULE_H_
