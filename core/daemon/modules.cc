#include "core/daemon/modules.h"

#include <memory>

#include "core/modules/kill_conditions/kill_conditions.h"
#include "core/modules/log_hygiene/log_hygiene.h"
#include "core/modules/plugin_calls/plugin_calls.h"

namespace fleet::daemon {

ModuleRoutes RegisterModules(supervisor::Supervisor* supervisor, const ModuleServices& services) {
  module::ModuleHost* host = supervisor->host();
  ModuleRoutes routes;
  supervisor->AddModule(std::make_unique<modules::LogHygiene>(host));
  supervisor->AddModule(std::make_unique<modules::KillConditions>(host));
  supervisor->AddModule(std::make_unique<modules::PluginCalls>(services.plugin_calls));
  auto health = std::make_unique<modules::HealthChecks>(host, services.health);
  routes.health = health.get();
  supervisor->AddModule(std::move(health));
  // After health: a scheduled instance's health is whether it runs on time.
  auto runs = std::make_unique<modules::Scheduler>(host);
  routes.runs = runs.get();
  supervisor->AddModule(std::move(runs));
  auto bus = std::make_unique<modules::WorkBus>(host);
  routes.bus = bus.get();
  supervisor->AddModule(std::move(bus));
  if (services.recovery != nullptr) {
    auto recovery =
        std::make_unique<modules::RecoveryPasses>(host, services.recovery, services.plan_reporter);
    routes.recovery = recovery.get();
    supervisor->AddModule(std::move(recovery));
  }
  auto state = std::make_unique<modules::SharedState>(host, services.sync, services.recovery,
                                                      services.plan_reporter);
  routes.state = state.get();
  supervisor->AddModule(std::move(state));
  return routes;
}

}  // namespace fleet::daemon
