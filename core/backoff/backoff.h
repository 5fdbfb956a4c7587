// Exponential backoff, the one rule behind every retry fleet makes: an
// instance's restart, an intelligence engine's wait after a rate limit, a
// state push that did not get through, a bus task that failed. Retry n
// (n >= 1) waits initial * factor^(n-1), capped at max, scaled by a random
// factor in [1 - jitter, 1 + jitter] and capped again. Whatever the inputs
// (a task file's retry_delay, a streak of a million), the delay is a finite
// duration between zero and max: no overflow.
#ifndef FLEET_CORE_BACKOFF_BACKOFF_H_
#define FLEET_CORE_BACKOFF_BACKOFF_H_

#include <cstdint>

#include "absl/time/time.h"
#include "proto/fleet/config/v1/config.pb.h"

namespace fleet {

struct Backoff {
  absl::Duration initial;
  absl::Duration max;
  double factor = 2;
  double jitter = 0;

  // The delay before retry n; zero for n == 0 or initial <= 0. random01 is
  // a draw from [0, 1) (0.5: no jitter either way).
  absl::Duration Delay(uint32_t n, double random01 = 0.5) const;

  // From a validated config's backoff (initial, max, factor, jitter).
  static Backoff FromConfig(const fleet::config::v1::Backoff& config);
};

}  // namespace fleet

#endif  // FLEET_CORE_BACKOFF_BACKOFF_H_
