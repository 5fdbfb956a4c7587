#include "core/recovery/recovery_worker.h"

#include "core/log/log.h"
#include "plugins/sdk/fleet_plugin.h"

namespace fleet::recovery {
namespace {

using fleet::plugin::v1::RecoveryPlan;
using fleet::plugin::v1::RecoveryRequest;

// Scanning many files can take a while; an isolated plugin past this is stopped.
constexpr absl::Duration kCallTimeout = absl::Minutes(1);

}  // namespace

RecoveryWorker::RecoveryWorker(std::vector<std::unique_ptr<plugin_host::PluginCaller>> callers,
                               std::unique_ptr<plugin_host::Plugin> library,
                               std::function<void(RecoveryOutcome)> on_outcome)
    : callers_(std::move(callers)),
      library_(std::move(library)),
      on_outcome_(std::move(on_outcome)) {}

RecoveryWorker::~RecoveryWorker() {
  if (!worker_.Stop(absl::ZeroDuration(), absl::Seconds(3))) {
    // A pass is stuck in the plugin: leave it (and what it uses) to exit.
    log::Warning("a recovery plugin call is still running at shutdown; not waiting for it");
    for (auto& caller : callers_) (void)caller.release();
    (void)library_.release();
    return;
  }
  callers_.clear();  // Instances before their plugin.
}

absl::StatusOr<RecoveryPlan> RecoveryWorker::Call(plugin_host::PluginCaller& caller,
                                                  const RecoveryRequest& request) {
  absl::StatusOr<std::string> bytes =
      caller.Call(FLEET_METHOD_RECOVER, request.SerializeAsString(), kCallTimeout);
  if (!bytes.ok()) return bytes.status();
  RecoveryPlan plan;
  // A plugin's garbage is its error, not a plan.
  if (!plan.ParseFromString(*bytes)) {
    return absl::InternalError("the recovery plugin answered something that is not a plan");
  }
  return plan;
}

void RecoveryWorker::Submit(RecoveryRequest request, std::string subject) {
  if (callers_.empty()) return;
  auto shared = std::make_shared<RecoveryRequest>(std::move(request));
  worker_.Submit([this, shared, subject = std::move(subject)] {
    RecoveryOutcome outcome{subject, shared->op(), Call(*callers_[0], *shared)};
    on_outcome_(std::move(outcome));
  });
}

absl::StatusOr<RecoveryPlan> RecoveryWorker::Validate(size_t lane, const RecoveryRequest& request) {
  if (lane + 1 >= callers_.size()) {
    return absl::InternalError("no recovery plugin instance for this sync lane");
  }
  return Call(*callers_[lane + 1], request);
}

}  // namespace fleet::recovery
