// Where kill-condition variables come from: "FLEET_METRIC name=value ..."
// lines in an instance's output, and a JSON object file the engine rewrites
// (nested keys flatten to "a.b"). Bad input is reported, never guessed at.
#ifndef FLEET_CORE_KILLCOND_METRICS_H_
#define FLEET_CORE_KILLCOND_METRICS_H_

#include <algorithm>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fleet::killcond {

using Metrics = absl::flat_hash_map<std::string, double>;

// The line marker an engine prints: "FLEET_METRIC cash=41.5 daily_loss=$3".
inline constexpr absl::string_view kMetricMarker = "FLEET_METRIC ";

// Parses the pairs after the marker into out. Values take an optional '$'
// and a trailing '%'. kInvalidArgument names the first bad pair; pairs before
// it are kept.
absl::Status ParseMetricLine(absl::string_view line, Metrics* out);

// Parses a metrics file: a JSON object of numbers (and booleans as 0/1,
// nested objects as "a.b"). Strings, lists and nulls are skipped. At most 1 MB.
absl::StatusOr<Metrics> ParseMetricsJson(const std::string& text);

// Finds FLEET_METRIC lines in a stream of output chunks, across chunk
// boundaries. Not thread-safe.
class MetricLineScanner {
 public:
  // Calls on_line(line) for each complete marker line in data (without '\n').
  template <typename F>
  void Feed(absl::string_view data, F on_line) {
    while (!data.empty()) {
      size_t newline = data.find('\n');
      absl::string_view piece = data.substr(0, newline);
      if (partial_.size() < kMaxLine) partial_.append(piece.data(), std::min(piece.size(), kMaxLine - partial_.size()));
      if (newline == absl::string_view::npos) return;
      if (absl::string_view(partial_).substr(0, kMetricMarker.size()) == kMetricMarker) on_line(partial_);
      partial_.clear();
      data.remove_prefix(newline + 1);
    }
  }

 private:
  static constexpr size_t kMaxLine = 4096;
  std::string partial_;
};

}  // namespace fleet::killcond

#endif  // FLEET_CORE_KILLCOND_METRICS_H_
