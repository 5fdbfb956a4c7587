#include "core/backoff/backoff.h"

#include <algorithm>
#include <cmath>

#include "core/proto_time/proto_time.h"

namespace fleet {

absl::Duration Backoff::Delay(uint32_t n, double random01) const {
  if (n == 0 || initial <= absl::ZeroDuration() || max <= absl::ZeroDuration()) {
    return absl::ZeroDuration();
  }
  // In double seconds, where a huge power is +inf rather than undefined;
  // the cap brings it back.
  const double cap = absl::ToDoubleSeconds(std::min(max, absl::Hours(24 * 365)));
  const double growth = std::pow(std::max(factor, 1.0), std::min<double>(n - 1, 1024));
  double seconds = std::min(absl::ToDoubleSeconds(initial) * growth, cap);
  // Jitter spreads a fleet that failed together (one bad dependency) so
  // it does not retry in lock-step.
  const double spread = std::clamp(jitter, 0.0, 1.0);
  seconds *= 1 + spread * (2 * std::clamp(random01, 0.0, 1.0) - 1);
  seconds = std::clamp(seconds, 0.0, cap);
  return absl::Seconds(seconds);
}

Backoff Backoff::FromConfig(const fleet::config::v1::Backoff& config) {
  Backoff b;
  b.initial = FromProto(config.initial());
  b.max = FromProto(config.max());
  b.factor = config.factor();
  b.jitter = config.jitter();
  return b;
}

}  // namespace fleet
