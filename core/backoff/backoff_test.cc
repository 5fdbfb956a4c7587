#include "core/backoff/backoff.h"

#include "gtest/gtest.h"

namespace fleet {
namespace {

TEST(BackoffTest, DoublesUpToItsCap) {
  const Backoff b{absl::Milliseconds(500), absl::Seconds(60), 2, 0};
  EXPECT_EQ(b.Delay(0), absl::ZeroDuration());
  EXPECT_EQ(b.Delay(1), absl::Milliseconds(500));
  EXPECT_EQ(b.Delay(2), absl::Seconds(1));
  EXPECT_EQ(b.Delay(4), absl::Seconds(4));
  EXPECT_EQ(b.Delay(8), absl::Seconds(60));
  EXPECT_EQ(b.Delay(4000000000u), absl::Seconds(60));
}

TEST(BackoffTest, JitterStaysWithinItsShareAndTheCap) {
  const Backoff b{absl::Seconds(10), absl::Seconds(15), 2, 0.2};
  EXPECT_EQ(b.Delay(1, 0.0), absl::Seconds(8));
  EXPECT_EQ(b.Delay(1, 1.0), absl::Seconds(12));
  EXPECT_EQ(b.Delay(2, 1.0), absl::Seconds(15));  // 20s, capped, +20%, capped again.
  EXPECT_EQ(b.Delay(2, 0.0), absl::Seconds(12));
}

TEST(BackoffTest, HostileNumbersGiveAFiniteDelay) {
  // A task file's retry_delay of 10 years and 100 retries, with no cap.
  const Backoff huge{absl::Hours(24 * 3650), absl::InfiniteDuration(), 2, 0};
  const absl::Duration d = huge.Delay(100);
  EXPECT_LT(d, absl::InfiniteDuration());
  EXPECT_EQ(d, absl::Hours(24 * 365));
  const Backoff odd{absl::Seconds(1), absl::Seconds(30), -3, 7};
  for (uint32_t n : {1u, 2u, 50u}) {
    EXPECT_GE(odd.Delay(n, 0.99), absl::ZeroDuration());
    EXPECT_LE(odd.Delay(n, 0.99), absl::Seconds(30));
  }
  EXPECT_EQ((Backoff{absl::ZeroDuration(), absl::Seconds(1)}).Delay(3), absl::ZeroDuration());
}

TEST(BackoffTest, FromConfig) {
  fleet::config::v1::Backoff c;
  c.mutable_initial()->set_nanos(250000000);
  c.mutable_max()->set_seconds(9);
  c.set_factor(3);
  c.set_jitter(0);
  const Backoff b = Backoff::FromConfig(c);
  EXPECT_EQ(b.Delay(1), absl::Milliseconds(250));
  EXPECT_EQ(b.Delay(2), absl::Milliseconds(750));
  EXPECT_EQ(b.Delay(5), absl::Seconds(9));
}

}  // namespace
}  // namespace fleet
