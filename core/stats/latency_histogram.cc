#include "core/stats/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace fleet::stats {

absl::Duration LatencyHistogram::Bound(int i) {
  if (i >= kBuckets - 1) return absl::InfiniteDuration();
  return kFirstBound * (int64_t{1} << i);
}

void LatencyHistogram::Add(absl::Duration d) {
  d = std::max(d, absl::ZeroDuration());
  int i = 0;
  while (i < kBuckets - 1 && d > Bound(i)) ++i;
  ++buckets_[i];
  ++count_;
  max_ = std::max(max_, d);
  sum_ += d;
}

absl::Duration LatencyHistogram::Percentile(double q) const {
  if (count_ == 0) return absl::ZeroDuration();
  const uint64_t rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::min(Bound(i), max_);
  }
  return max_;
}

}  // namespace fleet::stats
