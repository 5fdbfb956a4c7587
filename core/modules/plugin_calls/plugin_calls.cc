#include "core/modules/plugin_calls/plugin_calls.h"

#include "core/metrics/series.h"

namespace fleet::modules {

void PluginCalls::FillMetrics(fleet::control::v1::GetStatusResponse* status) const {
  const std::vector<plugin_host::CallStats::Row> rows = stats_->Snapshot();
  metrics::Series calls = metrics::Series::Counter(
      status, "fleet_plugin_calls_total", "Calls fleetd made to each plugin, by kind and name");
  for (const auto& row : rows) {
    calls.Add({{"kind", row.kind}, {"plugin", row.name}}, static_cast<double>(row.calls));
  }
  metrics::Series failures =
      metrics::Series::Counter(status, "fleet_plugin_call_failures_total",
                               "Plugin calls that failed (an error, a timeout, a crashed helper)");
  for (const auto& row : rows) {
    failures.Add({{"kind", row.kind}, {"plugin", row.name}}, static_cast<double>(row.failures));
  }
}

}  // namespace fleet::modules
