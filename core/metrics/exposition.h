// Prometheus' text exposition (format 0.0.4) and OpenMetrics 1.0, written
// family by family: what fleetd serves on /metrics, writes to a textfile
// for node_exporter, and `fleetctl metrics` prints. Names and label values
// are checked and escaped here, so no caller can emit a line a scraper
// refuses.
#ifndef FLEET_CORE_METRICS_EXPOSITION_H_
#define FLEET_CORE_METRICS_EXPOSITION_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace fleet::metrics {

enum class Format {
  kPrometheusText,  // text/plain; version=0.0.4
  kOpenMetrics,     // application/openmetrics-text; version=1.0.0
};
// What to answer a scraper's Accept header with: OpenMetrics when it asks
// for it, the 0.0.4 text otherwise.
Format FormatFor(absl::string_view accept);
const char* ContentType(Format format);

enum class Type { kCounter, kGauge, kHistogram };

using Labels = std::vector<std::pair<std::string, std::string>>;

// A metric or label name Prometheus accepts: [a-zA-Z_:][a-zA-Z0-9_:]*
// (labels: no colon).
bool ValidMetricName(absl::string_view name);
bool ValidLabelName(absl::string_view name);
// A name made valid: every other character becomes '_' ("api-calls" ->
// "api_calls"), and a leading digit gets a '_' before it.
std::string SanitizeName(absl::string_view name);

// Not thread-safe; one per exposition.
class Exposition {
 public:
  explicit Exposition(Format format) : format_(format) {}

  // Starts a family: every sample until the next Family is of it. A
  // counter's name ends in "_total" (the sample name in both formats; the
  // OpenMetrics family name drops it). An invalid name drops the family.
  void Family(absl::string_view name, Type type, absl::string_view help);
  // A counter's or gauge's sample.
  void Sample(const Labels& labels, double value);
  // A histogram's samples: bounds ascending (+Inf is added), counts[i] the
  // observations <= bounds[i] (not cumulative: they are summed here), the
  // rest counted in `count`.
  void Histogram(const Labels& labels, const std::vector<double>& bounds,
                 const std::vector<uint64_t>& counts, double sum, uint64_t count);
  // The exposition (OpenMetrics: ends in "# EOF").
  std::string Finish();

 private:
  void Line(absl::string_view suffix, const Labels& labels, absl::string_view extra_label,
            absl::string_view extra_value, double value);

  const Format format_;
  std::string out_;
  std::string name_;  // of the current family ("" when dropped)
  Type type_ = Type::kGauge;
};

// A value as both formats write it: shortest round-trip decimal, NaN,
// +Inf, -Inf.
std::string FormatValue(double value);

}  // namespace fleet::metrics

#endif  // FLEET_CORE_METRICS_EXPOSITION_H_
