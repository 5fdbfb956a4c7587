// Finding and loading the plugins a fleet needs, at fleetd's start. Every
// call made to a plugin loaded here is counted in the CallStats given.
#ifndef FLEET_CORE_DAEMON_PLUGINS_H_
#define FLEET_CORE_DAEMON_PLUGINS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/health/monitor.h"
#include "core/plugin_host/call_stats.h"
#include "core/recovery/recovery_worker.h"
#include "core/supervisor/event_log.h"
#include "core/sync/state_sync.h"
#include "proto/fleet/config/v1/config.pb.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::daemon {

// Where plugin files are looked for: the config's plugin_dirs, then fleet's
// own (<fleetd's dir>/../plugins/<kind>, <fleetd's dir>/../lib/fleet/plugins).
std::vector<std::string> PluginSearchPath(const fleet::config::v1::FleetConfig& config,
                                          const std::string& kind);

// Loads the configured health plugins, and fleet.health.builtin when an
// engine needs it and no file was named for it. Each failure is logged as an
// event naming the file and the reason; the fleet runs on without it (its
// engines' health reads "unknown: health plugin ... is not loaded").
// Returns what was loaded or refused, for `fleetctl plugins`.
std::vector<fleet::control::v1::PluginInfo> LoadHealthPlugins(
    const fleet::config::v1::FleetConfig& config, supervisor::EventLog* events,
    plugin_host::CallStats* stats, health::HealthMonitor* monitor);

// Loads the sync plugin named by config.state().plugin (REQUIRES: the fleet
// has state), once per lane, into *out. A failure is logged as an event and
// leaves *out null: engines with `state: true` then wait, saying why.
fleet::control::v1::PluginInfo LoadSyncPlugin(const fleet::config::v1::FleetConfig& config,
                                              supervisor::EventLog* events,
                                              plugin_host::CallStats* stats, int lanes,
                                              std::function<void(sync::SyncOutcome)> on_outcome,
                                              std::unique_ptr<sync::StateSync>* out,
                                              sync::Validator validator = nullptr);

// Loads the recovery plugin (config.recovery().plugin, default
// libfleet_recovery_files.so) once for periodic passes and once per sync lane
// (`validators`) into *out. A failure is logged as an event and leaves *out
// null: no protected file is then guarded (fleetctl plugins says why).
fleet::control::v1::PluginInfo LoadRecoveryPlugin(
    const fleet::config::v1::FleetConfig& config, supervisor::EventLog* events,
    plugin_host::CallStats* stats, int validators,
    std::function<void(recovery::RecoveryOutcome)> on_outcome,
    std::unique_ptr<recovery::RecoveryWorker>* out);

}  // namespace fleet::daemon

#endif  // FLEET_CORE_DAEMON_PLUGINS_H_
