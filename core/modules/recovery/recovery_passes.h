// Recovery's periodic passes: every `recovery.interval` (10 s when unset) the
// fleet's protected files are checked (a bad one is put back from its last
// good snapshot) and the leftovers of dead processes are cleaned (stale
// locks, temp files). The first pass runs at once, so what ran before this
// fleetd is cleaned before the fleet gets going. The plugin calls run on
// the recovery worker; the plans come back through OnOutcome as events.
// The state work trees are checked by whoever syncs them (the state code),
// between its syncs; their plans come back here too.
#ifndef FLEET_CORE_MODULES_RECOVERY_RECOVERY_PASSES_H_
#define FLEET_CORE_MODULES_RECOVERY_RECOVERY_PASSES_H_

#include <optional>

#include "core/module/module.h"
#include "core/recovery/plan_report.h"
#include "core/recovery/recovery_worker.h"
#include "proto/fleet/config/v1/config.pb.h"

namespace fleet::modules {

class RecoveryPasses final : public module::Module {
 public:
  // worker and reporter outlive the module.
  RecoveryPasses(module::ModuleHost* host, recovery::RecoveryWorker* worker,
                 recovery::PlanReporter* reporter)
      : host_(host), worker_(worker), reporter_(reporter) {}

  absl::string_view name() const override { return "recovery"; }
  void OnConfig(const config::LoadedConfig& loaded) override;
  std::optional<os::MonoTime> NextDeadline() const override { return due_; }
  void OnDeadline() override;
  void FillStatus(fleet::control::v1::GetStatusResponse* status) const override;
  void FillMetrics(fleet::control::v1::GetStatusResponse* status) const override;

  // A pass's plan (posted to the loop by the worker's callback).
  void OnOutcome(const recovery::RecoveryOutcome& outcome);

 private:
  module::ModuleHost* host_;
  recovery::RecoveryWorker* worker_;
  recovery::PlanReporter* reporter_;
  fleet::config::v1::Recovery config_;
  std::string work_trees_;  // "" when the fleet has no state
  std::optional<os::MonoTime> due_;
};

}  // namespace fleet::modules

#endif  // FLEET_CORE_MODULES_RECOVERY_RECOVERY_PASSES_H_
