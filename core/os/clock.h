// Time seams: a monotonic clock for every duration and deadline, a wall clock
// only for what people read. Tests jump the wall clock with
// tests/fakes/jumping_clock.h.
#ifndef FLEET_CORE_OS_CLOCK_H_
#define FLEET_CORE_OS_CLOCK_H_

#include "absl/time/time.h"

namespace fleet::os {

// A point on CLOCK_MONOTONIC, as time since an arbitrary origin (boot).
// Never compare it with wall time; only subtract two of them.
using MonoTime = absl::Duration;

// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual MonoTime MonotonicNow() = 0;
  virtual absl::Time WallNow() = 0;
};

// The process-wide real clock (CLOCK_MONOTONIC, CLOCK_REALTIME). Never null.
Clock* RealClock();

}  // namespace fleet::os

#endif  // FLEET_CORE_OS_CLOCK_H_
