// An engine's health settings as fleetd uses them: the plugin payload
// (HealthSpec) plus the knobs fleetd applies itself (when to check, how often,
// how many failures before a restart).
#ifndef FLEET_CORE_HEALTH_POLICY_H_
#define FLEET_CORE_HEALTH_POLICY_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "proto/fleet/config/v1/config.pb.h"
#include "proto/fleet/plugin/v1/health.pb.h"

namespace fleet::health {

inline constexpr char kBuiltinCheck[] = "fleet.health.builtin";

struct HealthPolicy {
  // False when the engine declares nothing to check (knobs alone do not count).
  bool enabled = false;
  std::string check = kBuiltinCheck;
  absl::Duration initial_delay;
  absl::Duration period = absl::Seconds(10);
  absl::Duration timeout = absl::Seconds(1);
  // Default 3 with a probe (tcp, http, exec), 1 for freshness alone.
  uint32_t failure_threshold = 1;
  // With a probe: after a start, unhealthy verdicts do not count until the
  // first healthy one or until this has passed (default 60s; 0: none).
  absl::Duration startup_grace;
  // Files whose changes the host watches; empty log_path = the captured log.
  std::string log_path;
  std::string heartbeat_path;
  fleet::plugin::v1::HealthSpec spec;
};

// From a validated engine (min_uptime is the default initial delay).
HealthPolicy HealthPolicyFor(const fleet::config::v1::Engine& engine);

}  // namespace fleet::health

#endif  // FLEET_CORE_HEALTH_POLICY_H_
