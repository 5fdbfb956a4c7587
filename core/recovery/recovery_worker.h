// The host side of the recovery plugin. Periodic passes (protected files,
// leftovers) run on one worker thread and their plans come back through a
// callback (posted to the loop). Validation before a commit runs inside the
// sync lane that is about to commit, synchronously, on that lane's own
// plugin instance, so the check and the commit are in order by construction.
#ifndef FLEET_CORE_RECOVERY_RECOVERY_WORKER_H_
#define FLEET_CORE_RECOVERY_RECOVERY_WORKER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/plugin_host/caller.h"
#include "core/plugin_host/plugin.h"
#include "core/plugin_host/worker.h"
#include "proto/fleet/plugin/v1/recovery.pb.h"

namespace fleet::recovery {

struct RecoveryOutcome {
  // Who the pass was about ("fleetd" or "ENGINE/N"), for events.
  std::string subject;
  fleet::plugin::v1::RecoveryRequest::Op op = fleet::plugin::v1::RecoveryRequest::OP_UNSPECIFIED;
  absl::StatusOr<fleet::plugin::v1::RecoveryPlan> plan;
};

// Thread-safe as documented per method.
class RecoveryWorker {
 public:
  // callers[0] serves periodic passes; callers[1 + i] serves Validate(i, ...)
  // (one per sync lane). library keeps an in-process plugin loaded.
  RecoveryWorker(std::vector<std::unique_ptr<plugin_host::PluginCaller>> callers,
                 std::unique_ptr<plugin_host::Plugin> library,
                 std::function<void(RecoveryOutcome)> on_outcome);
  ~RecoveryWorker();
  RecoveryWorker(const RecoveryWorker&) = delete;
  RecoveryWorker& operator=(const RecoveryWorker&) = delete;

  // Any thread: queues a pass; its plan goes to on_outcome.
  void Submit(fleet::plugin::v1::RecoveryRequest request, std::string subject);
  // Jobs queued or running.
  size_t pending() const { return worker_.pending(); }
  // From sync lane `lane` only (one caller each, never shared): runs now.
  absl::StatusOr<fleet::plugin::v1::RecoveryPlan> Validate(
      size_t lane, const fleet::plugin::v1::RecoveryRequest& request);
  size_t lanes() const { return callers_.empty() ? 0 : callers_.size() - 1; }

 private:
  static absl::StatusOr<fleet::plugin::v1::RecoveryPlan> Call(
      plugin_host::PluginCaller& caller, const fleet::plugin::v1::RecoveryRequest& request);

  std::vector<std::unique_ptr<plugin_host::PluginCaller>> callers_;
  std::unique_ptr<plugin_host::Plugin> library_;
  std::function<void(RecoveryOutcome)> on_outcome_;
  plugin_host::SerialWorker worker_;
};

}  // namespace fleet::recovery

#endif  // FLEET_CORE_RECOVERY_RECOVERY_WORKER_H_
