// How long something took, kept as counts in exponential buckets: constant
// memory and O(1) per sample, so the supervision loop can time every pass it
// makes for weeks. Percentiles are read back as the upper bound of the
// bucket they fall in (within a factor of 2 of the truth, never below it);
// the maximum is exact.
#ifndef FLEET_CORE_STATS_LATENCY_HISTOGRAM_H_
#define FLEET_CORE_STATS_LATENCY_HISTOGRAM_H_

#include <array>
#include <cstdint>

#include "absl/time/time.h"

namespace fleet::stats {

class LatencyHistogram {
 public:
  // Bucket i counts samples <= kFirstBound * 2^i; the last one counts the rest.
  static constexpr absl::Duration kFirstBound = absl::Microseconds(16);
  static constexpr int kBuckets = 24;  // the last finite bound: ~67 s

  void Add(absl::Duration d);

  uint64_t count() const { return count_; }
  absl::Duration max() const { return max_; }
  absl::Duration sum() const { return sum_; }
  // The smallest bucket bound at or above the q-quantile (0 < q <= 1);
  // max() when it falls in the last bucket, zero when empty.
  absl::Duration Percentile(double q) const;
  // The upper bound of bucket i (infinite for the last).
  static absl::Duration Bound(int i);
  uint64_t bucket(int i) const { return buckets_[i]; }

 private:
  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  absl::Duration max_;
  absl::Duration sum_;
};

}  // namespace fleet::stats

#endif  // FLEET_CORE_STATS_LATENCY_HISTOGRAM_H_
