// Shared state in Git: each instance of an engine with `state: true` works
// in its own work tree (FLEET_STATE_DIR, <work_trees>/<engine>.<index>).
// Before every start its tree is pulled (the start WAITs for it); after
// every run what it left is committed and pushed; a watchdog commits what
// long-running daemons leave uncommitted; failed pushes are retried with
// backoff while the worker goes on with its last state; between syncs the
// trees' protected state files are checked (recovery), and before every
// commit they are validated on the sync lane, so nothing invalid is
// committed. The plugin calls run on the StateSync lanes; answers come back
// through OnOutcome.
#ifndef FLEET_CORE_MODULES_STATE_SHARED_STATE_H_
#define FLEET_CORE_MODULES_STATE_SHARED_STATE_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/module/module.h"
#include "core/recovery/plan_report.h"
#include "core/recovery/recovery_worker.h"
#include "core/sync/state_sync.h"
#include "proto/fleet/config/v1/config.pb.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::modules {

class SharedState final : public module::Module {
 public:
  // Each may be null: no sync plugin (instances with state wait, saying
  // so), no recovery (no checks). Each outlives the module.
  SharedState(module::ModuleHost* host, sync::StateSync* sync, recovery::RecoveryWorker* recovery,
              recovery::PlanReporter* reporter)
      : host_(host), sync_(sync), recovery_(recovery), reporter_(reporter) {}

  absl::string_view name() const override { return "state"; }
  absl::Status CheckReload(const config::LoadedConfig& loaded) const override;
  void OnConfig(const config::LoadedConfig& loaded) override;
  void OnInstanceAdded(const module::InstanceView& inst) override;
  void OnInstanceRemoved(const std::string& id) override { tracks_.erase(id); }
  std::optional<std::string> SpawnGate(const module::InstanceView& inst) override;
  void AddEnvironment(const module::InstanceView& inst,
                      std::map<std::string, std::string>* env) const override;
  void OnExit(const module::InstanceView& inst, const os::ExitStatus& status) override;
  void OnDelivered(const module::InstanceView& inst, const std::string& path,
                   const std::string& what) override;
  std::optional<os::MonoTime> NextDeadline() const override;
  void OnDeadline() override;
  void FillStatus(fleet::control::v1::GetStatusResponse* status) const override;
  void FillInstanceStatus(const module::InstanceView& inst,
                          fleet::control::v1::InstanceStatus* out) const override;
  void FillMetrics(fleet::control::v1::GetStatusResponse* status) const override;

  // A sync plugin's answer (posted to the loop).
  void OnOutcome(const sync::SyncOutcome& outcome);
  // Pulls (commit: commits and pushes) the state of target's instances now;
  // reply is called on the loop once per instance, when its answer is in.
  // Returns how many replies will come, or why none will. Loop thread.
  absl::StatusOr<int> Sync(const std::string& target, bool commit, const std::string& message,
                           std::function<void(fleet::control::v1::InstanceSync)> reply);

 private:
  // An instance's view of the shared state.
  struct Track {
    std::string dir;    // FLEET_STATE_DIR; empty: the instance uses no state
    int in_flight = 0;  // sync jobs submitted and not answered yet
    // The next spawn waits for a pull; once it is done, ready_to_spawn.
    bool pulling_for_start = false;
    bool ready_to_spawn = false;
    std::string head;
    uint32_t ahead = 0;   // local commits the remote does not have
    std::string last_op;  // "pulled 1a2b3c4 (fast-forward)", "pushed 1a2b3c4"
    std::optional<os::MonoTime> last_op_at;
    std::vector<std::string> conflicts;  // paths no rule resolved (kept locally)
    std::string error;                   // the last failure, "" after a success
    // The last run left state files that failed validation (put back, not
    // committed): "x.json: not valid JSON (...)".
    std::vector<std::string> invalid;
    bool unreachable = false;
    absl::Time unreachable_since;  // wall time, for the operator
    // A failed publish (or the pull a start waits for) is tried again.
    uint32_t retries = 0;
    std::optional<os::MonoTime> retry_due;
    // Since fleetd started (fleet_sync_*; state_metrics.cc).
    struct Counts {
      uint64_t commits = 0, pushes = 0, push_failures = 0, pull_failures = 0;
      uint64_t unresolved = 0;                      // answers with a conflict no rule resolved
      std::map<std::string, uint64_t> resolved_by;  // paths, by strategy
      std::optional<absl::Time> last_pull;          // the last successful pull
    } counts;
  };
  // An answer, counted.
  static void Count(bool pull, const fleet::plugin::v1::SyncResult& result, absl::Time now,
                    Track::Counts* counts);
  bool enabled() const { return sync_ != nullptr && !config_.remote().empty(); }
  // <work_trees>/<engine>.<index>, or "" when the engine uses no state.
  std::string DirFor(const fleet::config::v1::Engine& spec, uint32_t index) const;
  Track* Find(const std::string& id);
  void Submit(const std::string& id, Track* track, fleet::plugin::v1::SyncRequest::Op op,
              std::string message,
              std::function<void(fleet::control::v1::InstanceSync)> reply = nullptr);
  // VALIDATE over a work tree (op UNSPECIFIED when no rule is about state).
  fleet::plugin::v1::RecoveryRequest Validation(const std::string& id, const Track& track) const;
  // Every recovery interval: each tree no sync is on its way for is checked.
  void CheckWorkTrees();
  // An answer's effect on track; the line for `fleetctl sync`.
  void Absorb(const module::InstanceView& inst, Track* track, const sync::SyncOutcome& outcome,
              fleet::control::v1::InstanceSync* answer);
  std::string StatusLine(const Track& track) const;

  module::ModuleHost* host_;
  sync::StateSync* sync_;
  recovery::RecoveryWorker* recovery_;
  recovery::PlanReporter* reporter_;
  // The fleet's state block (an empty remote: the fleet has none), and its
  // recovery block (its rules about state apply to the work trees).
  fleet::config::v1::State config_;
  fleet::config::v1::Recovery recovery_config_;
  std::optional<os::MonoTime> watchdog_due_;
  std::optional<os::MonoTime> tree_check_due_;
  uint64_t seq_ = 0;
  absl::flat_hash_map<std::string, Track> tracks_;  // by instance id, with state only
  // Who waits for a sync answer (fleetctl sync / commit), by job seq.
  absl::flat_hash_map<uint64_t, std::function<void(fleet::control::v1::InstanceSync)>> replies_;
};

}  // namespace fleet::modules

#endif  // FLEET_CORE_MODULES_STATE_SHARED_STATE_H_
