#include "core/modules/recovery/recovery_passes.h"

#include "absl/strings/str_cat.h"
#include "core/metrics/series.h"
#include "core/proto_time/proto_time.h"
#include "core/recovery/requests.h"

namespace fleet::modules {

void RecoveryPasses::OnConfig(const config::LoadedConfig& loaded) {
  config_ = loaded.config.recovery();
  const bool state = loaded.config.has_state() && !loaded.config.state().remote().empty();
  work_trees_ = state ? loaded.config.state().work_trees() : "";
  if (!due_.has_value()) due_ = host_->Now();
}

void RecoveryPasses::OnDeadline() {
  const absl::Duration interval = FromProto(config_.interval());
  due_ = host_->Now() + (interval > absl::ZeroDuration() ? interval : absl::Seconds(10));
  // A pass still queued from last time: do not pile more on a slow disk.
  if (worker_->pending() > 0) return;
  fleet::plugin::v1::RecoveryRequest check = recovery::FleetCheck(config_, host_->run_dir());
  if (!check.rules().empty()) worker_->Submit(std::move(check), "fleetd");
  worker_->Submit(recovery::LeftoversClean(config_, host_->run_dir(), work_trees_), "fleetd");
}

void RecoveryPasses::FillStatus(fleet::control::v1::GetStatusResponse* status) const {
  fleet::control::v1::DaemonStatus* d = status->mutable_daemon();
  d->set_plugin_queue(d->plugin_queue() + static_cast<uint32_t>(worker_->pending()));
}

void RecoveryPasses::FillMetrics(fleet::control::v1::GetStatusResponse* status) const {
  // Both the periodic passes and the checks before each state commit.
  metrics::Series actions = metrics::Series::Counter(
      status, "fleet_recovery_actions_total",
      "What recovery did since fleetd started: files restored, bad versions quarantined, "
      "files found invalid with nothing to restore, stale locks broken, temp files removed, "
      "errors");
  for (const char* kind : recovery::PlanReporter::kCountedKinds) {
    actions.Add({{"action", kind}}, static_cast<double>(reporter_->count(kind)));
  }
}

void RecoveryPasses::OnOutcome(const recovery::RecoveryOutcome& outcome) {
  if (!outcome.plan.ok()) {
    host_->Emit(outcome.subject, "recovery_error",
                absl::StrCat("recovery plugin: ", outcome.plan.status().message()));
    return;
  }
  reporter_->Report(outcome.subject, *outcome.plan);
}

}  // namespace fleet::modules
