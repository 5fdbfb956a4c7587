#include "core/stats/latency_histogram.h"

#include "gtest/gtest.h"

namespace fleet::stats {
namespace {

TEST(LatencyHistogramTest, EmptyReadsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.Percentile(0.99), absl::ZeroDuration());
  EXPECT_EQ(h.max(), absl::ZeroDuration());
}

TEST(LatencyHistogramTest, PercentilesAreBucketBoundsAtOrAboveTheTruth) {
  LatencyHistogram h;
  for (int i = 0; i < 98; ++i) h.Add(absl::Microseconds(10));  // bucket <= 16us
  h.Add(absl::Microseconds(100));                              // <= 128us
  h.Add(absl::Milliseconds(300));                              // <= 524.288ms
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.Percentile(0.5), absl::Microseconds(16));
  EXPECT_EQ(h.Percentile(0.98), absl::Microseconds(16));
  EXPECT_EQ(h.Percentile(0.99), absl::Microseconds(128));
  // The top sample's bucket bound is above the max: the max is exact.
  EXPECT_EQ(h.Percentile(1.0), absl::Milliseconds(300));
  EXPECT_EQ(h.max(), absl::Milliseconds(300));
  EXPECT_EQ(h.sum(), absl::Microseconds(98 * 10 + 100) + absl::Milliseconds(300));
}

TEST(LatencyHistogramTest, HugeAndNegativeSamplesLandInTheEndBuckets) {
  LatencyHistogram h;
  h.Add(absl::Hours(5));
  h.Add(absl::Microseconds(-3));  // a clock step: counted as zero
  EXPECT_EQ(h.bucket(0), 1u);
  EXPECT_EQ(h.bucket(LatencyHistogram::kBuckets - 1), 1u);
  EXPECT_EQ(h.Percentile(1.0), absl::Hours(5));
  EXPECT_EQ(LatencyHistogram::Bound(LatencyHistogram::kBuckets - 1), absl::InfiniteDuration());
}

}  // namespace
}  // namespace fleet::stats
