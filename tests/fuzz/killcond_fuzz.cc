// Kill-condition expressions (from the fleet file) and what workers publish
// for them: FLEET_METRIC lines in their output and the metrics JSON file.
#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "core/killcond/expression.h"
#include "core/killcond/metrics.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<fleet::killcond::Expression> e = fleet::killcond::Expression::Parse(text);
  if (e.ok()) {
    absl::flat_hash_map<std::string, double> vars;
    double v = 0.5;
    for (const std::string& name : e->variables()) vars[name] = (v *= -3.0);
    (void)e->Evaluate(vars);
    (void)e->Evaluate({});
  } else {
    (void)fleet::killcond::ErrorColumn(e.status());
  }
  fleet::killcond::Metrics metrics;
  (void)fleet::killcond::ParseMetricLine(text, &metrics);
  // The same bytes as a worker's output, in the uneven chunks a pipe gives.
  fleet::killcond::MetricLineScanner scanner;
  absl::string_view rest = text;
  for (size_t chunk = 1; !rest.empty(); chunk = chunk * 3 + 1) {
    const size_t n = std::min(chunk, rest.size());
    scanner.Feed(rest.substr(0, n), [&metrics](const std::string& line) {
      (void)fleet::killcond::ParseMetricLine(line, &metrics);
    });
    rest.remove_prefix(n);
  }
  (void)fleet::killcond::ParseMetricsJson(text);
  return 0;
}
