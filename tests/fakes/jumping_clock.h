// A clock for testing wall-clock jumps against real processes: the monotonic
// time is the real one (real children, real epoll timeouts), the wall time is
// the real one shifted by whatever the test jumped it by.
#ifndef FLEET_TESTS_FAKES_JUMPING_CLOCK_H_
#define FLEET_TESTS_FAKES_JUMPING_CLOCK_H_

#include "core/concurrency/mutex.h"
#include "absl/time/clock.h"
#include "core/os/clock.h"

namespace fleet::testing {

class JumpingClock : public os::Clock {
 public:
  os::MonoTime MonotonicNow() override { return os::RealClock()->MonotonicNow(); }
  absl::Time WallNow() override {
    fleet::MutexLock lock(&mu_);
    return absl::Now() + offset_;
  }
  // Sets the wall clock forwards (positive) or backwards (negative), as an
  // operator's `date -s` or an NTP step would.
  void Jump(absl::Duration by) {
    fleet::MutexLock lock(&mu_);
    offset_ += by;
  }

 private:
  fleet::Mutex mu_;
  absl::Duration offset_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fleet::testing

#endif  // FLEET_TESTS_FAKES_JUMPING_CLOCK_H_
