// What the lifecycle tests share: exits, the config's defaults, times.
// testonly.
#ifndef FLEET_CORE_SUPERVISOR_LIFECYCLE_TEST_UTIL_H_
#define FLEET_CORE_SUPERVISOR_LIFECYCLE_TEST_UTIL_H_

#include "core/supervisor/lifecycle.h"

namespace fleet::supervisor {

inline os::ExitStatus Code(int code) { return {code, 0, false}; }
inline os::ExitStatus Killed(int sig) { return {0, sig, true}; }

// The config's defaults, without jitter.
inline LifecyclePolicy Policy() {
  LifecyclePolicy p;
  p.min_uptime = absl::Seconds(1);
  p.backoff = {absl::Milliseconds(500), absl::Seconds(60), 2, 0};
  p.reset_after = absl::Seconds(60);
  p.max_failures = 10;
  p.failure_window = absl::Minutes(5);
  p.grace = absl::Seconds(10);
  return p;
}

inline MonoTime T(double seconds) { return absl::Seconds(seconds); }

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_LIFECYCLE_TEST_UTIL_H_
