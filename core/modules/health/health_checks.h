// Health is progress: each live instance is checked on its engine's policy
// (log freshness by default; heartbeat files, probes and third-party
// plugins), on the health monitor's worker, never on the loop. A check is
// due at the plugin's "recheck_in" hint or the period; failure_threshold
// strikes in a row restart the instance as a failure; a boot that is not
// healthy yet gets startup_grace; an "unknown" verdict (plugin error, host
// starved) is said once and changes nothing. Idleness counts only time
// fleetd was watching.
#ifndef FLEET_CORE_MODULES_HEALTH_HEALTH_CHECKS_H_
#define FLEET_CORE_MODULES_HEALTH_HEALTH_CHECKS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/health/monitor.h"
#include "core/health/policy.h"
#include "core/module/module.h"
#include "core/timers/deadline_queue.h"

namespace fleet::modules {

class HealthChecks final : public module::Module {
 public:
  // monitor outlives the module; null: no check runs (instances say so).
  HealthChecks(module::ModuleHost* host, health::HealthMonitor* monitor)
      : host_(host), monitor_(monitor) {}

  absl::string_view name() const override { return "health"; }
  void OnConfig(const config::LoadedConfig& loaded) override;
  void OnInstanceRemoved(const std::string& id) override {
    tracks_.erase(id);
    due_.Clear(id);
  }
  void OnSpawned(const module::InstanceView& inst) override;
  void OnAdopted(const module::InstanceView& inst, absl::Duration up) override;
  void OnExit(const module::InstanceView& inst, const os::ExitStatus& status) override;
  void OnOutput(const module::InstanceView& inst, capture::Stream stream,
                absl::string_view data) override;
  void WatchedFiles(std::vector<std::string>* paths) const override;
  std::optional<os::MonoTime> NextDeadline() const override;
  void OnDeadline() override;
  void FillInstanceStatus(const module::InstanceView& inst,
                          fleet::control::v1::InstanceStatus* out) const override;

  // A verdict from the monitor (posted to the loop).
  void OnOutcome(const health::CheckOutcome& outcome);

 private:
  struct Track {
    bool in_flight = false;
    os::MonoTime submitted_at;
    uint64_t seq = 0;  // answers about an older process are dropped
    std::string verdict;
    std::optional<os::MonoTime> checked_at;
    uint32_t failures = 0;
    bool unhealthy = false;
    // This run has been judged healthy once: its start-up grace is over.
    bool started_healthy = false;
    // The last verdict was "unknown": said once.
    bool unknown = false;
    // Last byte of output captured (the default log-freshness check).
    std::optional<os::MonoTime> last_output;
  };
  const health::HealthPolicy& PolicyOf(const module::InstanceView& inst) const;
  void Submit(const module::InstanceView& inst, Track* track);
  void Judge(const module::InstanceView& inst, Track* track, const health::CheckOutcome& outcome);
  void SetUnhealthy(const std::string& id, Track* track, bool unhealthy);
  // Since path last changed (output when ""), capped at the process's
  // uptime, minus time fleetd was not watching; -1: never.
  int64_t IdleMillis(const module::InstanceView& inst, const Track& track,
                     const std::string& path) const;

  module::ModuleHost* host_;
  health::HealthMonitor* monitor_;
  absl::flat_hash_map<std::string, health::HealthPolicy> policies_;  // by engine
  health::HealthPolicy none_;
  absl::flat_hash_map<std::string, Track> tracks_;  // by instance id
  timers::DeadlineQueue<std::string> due_;          // each instance's next check
};

}  // namespace fleet::modules

#endif  // FLEET_CORE_MODULES_HEALTH_HEALTH_CHECKS_H_
