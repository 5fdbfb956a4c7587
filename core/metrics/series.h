// The series a feature module publishes (Module::FillMetrics): families
// added to a status answer, which core/metrics renders with fleet's own.
// Label every sample by what it is about (engine and index, a strategy, a
// state), never by a pid, a run id or anything a worker chooses freely.
#ifndef FLEET_CORE_METRICS_SERIES_H_
#define FLEET_CORE_METRICS_SERIES_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/types/span.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

// Observations counted in fixed buckets (upper bounds ascending; +Inf is
// implied): constant memory for weeks of runs.
class Buckets {
 public:
  explicit Buckets(absl::Span<const double> bounds)
      : bounds_(bounds), counts_(bounds.size() + 1, 0) {}
  void Add(double value);
  absl::Span<const double> bounds() const { return bounds_; }
  // counts()[i]: observations <= bounds()[i] and above the bound before;
  // the last: above every bound.
  const std::vector<uint64_t>& counts() const { return counts_; }
  double sum() const { return sum_; }
  uint64_t count() const { return count_; }

 private:
  absl::Span<const double> bounds_;
  std::vector<uint64_t> counts_;
  double sum_ = 0;
  uint64_t count_ = 0;
};

// Durations of work that takes seconds to hours (runs, tasks), in seconds.
inline constexpr double kDurationBounds[] = {0.1, 0.5, 1,   5,    10,   30,
                                             60,  300, 900, 1800, 3600, 7200};

// One family in status->metrics.
class Series {
 public:
  static Series Counter(fleet::control::v1::GetStatusResponse* status, std::string name,
                        std::string help);
  static Series Gauge(fleet::control::v1::GetStatusResponse* status, std::string name,
                      std::string help);
  static Series Histogram(fleet::control::v1::GetStatusResponse* status, std::string name,
                          std::string help);

  void Add(const Labels& labels, double value);
  void Add(const Labels& labels, const Buckets& buckets);

 private:
  explicit Series(fleet::control::v1::MetricFamily* family) : family_(family) {}
  fleet::control::v1::MetricSample* Sample(const Labels& labels);

  fleet::control::v1::MetricFamily* family_;
};

// engine and index: the labels of a sample about one instance.
inline Labels InstanceLabels(const std::string& engine, uint32_t index) {
  return {{"engine", engine}, {"index", std::to_string(index)}};
}

}  // namespace fleet::metrics

#endif  // FLEET_CORE_METRICS_SERIES_H_
