// The host side of the sync plugin: runs its calls off the supervision loop
// and hands each answer to a callback (which posts it back to the loop).
// Calls run on a few lanes, each with its own plugin instance; one work tree
// always goes to the same lane, so its operations run in order and never at
// the same time (no two writers on one index), while different work trees
// sync in parallel. Pushes from different lanes are serialised by the plugin.
#ifndef FLEET_CORE_SYNC_STATE_SYNC_H_
#define FLEET_CORE_SYNC_STATE_SYNC_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/plugin_host/caller.h"
#include "core/plugin_host/plugin.h"
#include "core/plugin_host/worker.h"
#include "proto/fleet/plugin/v1/recovery.pb.h"
#include "proto/fleet/plugin/v1/sync.pb.h"

namespace fleet::sync {

struct SyncJob {
  std::string instance_id;  // "ENGINE/N"
  uint64_t seq = 0;         // echoed back, so the loop can match the answer
  fleet::plugin::v1::SyncRequest request;
  // How long an isolated plugin may take before it is stopped. In-process
  // calls cannot be interrupted; a late answer is still taken.
  absl::Duration timeout = absl::Minutes(2);
  // When set (op != UNSPECIFIED): the work tree's state files are validated
  // (bad ones put back) on the lane right before the sync call, so nothing
  // invalid is committed.
  fleet::plugin::v1::RecoveryRequest validate;
};

struct SyncOutcome {
  std::string instance_id;
  uint64_t seq = 0;
  fleet::plugin::v1::SyncRequest::Op op = fleet::plugin::v1::SyncRequest::OP_UNSPECIFIED;
  // The plugin's answer, or why there is none (plugin error, garbage).
  absl::StatusOr<fleet::plugin::v1::SyncResult> result;
  absl::Duration took;
  // The validation's plan, when the job asked for one.
  std::optional<absl::StatusOr<fleet::plugin::v1::RecoveryPlan>> validation;
};

// Validates before a sync, on lane `lane` (0 <= lane < lanes), synchronously.
using Validator = std::function<absl::StatusOr<fleet::plugin::v1::RecoveryPlan>(
    size_t lane, const fleet::plugin::v1::RecoveryRequest& request)>;

// Thread-safe: Submit from any thread; on_outcome runs on a lane's thread.
class StateSync {
 public:
  // lanes: one plugin instance each (at least one). library keeps an
  // in-process plugin's shared object loaded (null for isolated ones).
  StateSync(std::vector<std::unique_ptr<plugin_host::PluginCaller>> lanes,
            std::unique_ptr<plugin_host::Plugin> library,
            std::function<void(SyncOutcome)> on_outcome, Validator validator = nullptr);
  size_t lanes() const { return lanes_.size(); }
  // Drain(absl::ZeroDuration()).
  ~StateSync();
  StateSync(const StateSync&) = delete;
  StateSync& operator=(const StateSync&) = delete;

  void Submit(SyncJob job);
  // Jobs queued or running, over all lanes.
  size_t pending() const;
  // Lets queued jobs finish for up to `drain` (at shutdown: what the workers
  // left is published), then stops the lanes. Idempotent.
  void Drain(absl::Duration drain);

 private:
  struct Lane;
  void Run(Lane& lane, SyncJob& job);

  std::function<void(SyncOutcome)> on_outcome_;
  Validator validator_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  std::unique_ptr<plugin_host::Plugin> library_;
  bool drained_ = false;
};

}  // namespace fleet::sync

#endif  // FLEET_CORE_SYNC_STATE_SYNC_H_
