// The supervisor's feature modules (core/module/module.h), registered in
// one place: removing a module is deleting its folder and its line here.
#ifndef FLEET_CORE_DAEMON_MODULES_H_
#define FLEET_CORE_DAEMON_MODULES_H_

#include "core/health/monitor.h"
#include "core/modules/bus/work_bus.h"
#include "core/modules/health/health_checks.h"
#include "core/modules/recovery/recovery_passes.h"
#include "core/modules/schedule/scheduler.h"
#include "core/modules/state/shared_state.h"
#include "core/plugin_host/call_stats.h"
#include "core/recovery/plan_report.h"
#include "core/recovery/recovery_worker.h"
#include "core/supervisor/supervisor.h"
#include "core/sync/state_sync.h"

namespace fleet::daemon {

// The workers fleetd made for the modules (plugins loaded per the config);
// null: that feature is off here and its module is not registered. Each
// outlives the supervisor's loop.
struct ModuleServices {
  health::HealthMonitor* health = nullptr;
  recovery::RecoveryWorker* recovery = nullptr;
  recovery::PlanReporter* plan_reporter = nullptr;  // required
  sync::StateSync* sync = nullptr;
  const plugin_host::CallStats* plugin_calls = nullptr;  // required
};

// The registered modules that take the workers' answers (posted to the
// loop by the daemon's callbacks); null when not registered.
struct ModuleRoutes {
  modules::WorkBus* bus = nullptr;
  modules::HealthChecks* health = nullptr;
  modules::RecoveryPasses* recovery = nullptr;
  modules::SharedState* state = nullptr;
  modules::Scheduler* runs = nullptr;
};

ModuleRoutes RegisterModules(supervisor::Supervisor* supervisor, const ModuleServices& services);

}  // namespace fleet::daemon

#endif  // FLEET_CORE_DAEMON_MODULES_H_
