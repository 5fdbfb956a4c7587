#include <time.h>

#include "core/os/clock.h"

#include "absl/time/clock.h"

namespace fleet::os {
namespace {

class PosixClock : public Clock {
 public:
  MonoTime MonotonicNow() override {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return absl::DurationFromTimespec(ts);
  }
  absl::Time WallNow() override { return absl::Now(); }
};

}  // namespace

Clock* RealClock() {
  static PosixClock* clock = new PosixClock();
  return clock;
}

}  // namespace fleet::os
