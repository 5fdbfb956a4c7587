#include "core/modules/schedule/run_metrics.h"

#include <algorithm>
#include <tuple>
#include <vector>

#include "core/metrics/series.h"

namespace fleet::modules {
namespace {
namespace ctl = ::fleet::control::v1;

// Always a series per instance (0 until it happens: a first failure is an
// increase, not a new series); other verdicts appear once they happen.
constexpr const char* kAlwaysShown[] = {"succeeded", "failed"};
}  // namespace

void CountRun(const ctl::RunRecord& record, RunTrack* t) {
  ++t->runs_by_verdict[record.verdict()];
  if (record.verdict() != "skipped" && record.verdict() != "missed") {
    t->durations.Add(static_cast<double>(record.duration_ms()) / 1000.0);
  }
}

void FillRunMetrics(const absl::node_hash_map<std::string, RunTrack>& tracks,
                    const IntelRuns& intel, ctl::GetStatusResponse* status) {
  std::vector<const RunTrack*> sorted;
  for (const auto& [id, t] : tracks) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(), [](const RunTrack* a, const RunTrack* b) {
    return std::tie(a->engine, a->index) < std::tie(b->engine, b->index);
  });
  using metrics::Series;
  Series runs = Series::Counter(
      status, "fleet_runs_total",
      "Scheduled runs since fleetd started, by verdict (succeeded, failed, timed_out, rejected, "
      "replaced, stopped, skipped, missed)");
  for (const RunTrack* t : sorted) {
    std::map<std::string, uint64_t> counts = t->runs_by_verdict;
    for (const char* verdict : kAlwaysShown) counts.emplace(verdict, 0);
    for (const auto& [verdict, n] : counts) {
      metrics::Labels labels = metrics::InstanceLabels(t->engine, t->index);
      labels.emplace_back("verdict", verdict);
      runs.Add(labels, static_cast<double>(n));
    }
  }
  Series durations = Series::Histogram(status, "fleet_run_duration_seconds",
                                       "How long scheduled runs took (every verdict but skipped "
                                       "and missed), since fleetd started");
  for (const RunTrack* t : sorted) {
    durations.Add(metrics::InstanceLabels(t->engine, t->index), t->durations);
  }
  Series success = Series::Gauge(
      status, "fleet_run_last_success_timestamp_seconds",
      "When the last successful run ended, in seconds since the epoch (from the run history)");
  for (const RunTrack* t : sorted) {
    if (!t->last_success.has_value()) continue;
    success.Add(metrics::InstanceLabels(t->engine, t->index),
                absl::ToDoubleSeconds(*t->last_success - absl::UnixEpoch()));
  }
  Series overdue = Series::Gauge(
      status, "fleet_run_overdue",
      "1 while no run has succeeded for longer than the engine's expected_period (by default "
      "its schedule's longest gap, its timeout and a margin)");
  for (const RunTrack* t : sorted) {
    if (t->plan == nullptr || t->plan->expected_period == absl::InfiniteDuration()) continue;
    overdue.Add(metrics::InstanceLabels(t->engine, t->index), t->overdue ? 1 : 0);
  }
  Series budget = Series::Gauge(status, "fleet_intel_budget_remaining",
                                "Runs an intelligence engine may still make today "
                                "(budget.max_runs_per_day); absent without a budget");
  for (const RunTrack* t : sorted) {
    if (std::optional<uint32_t> left = intel.BudgetRemaining(*t)) {
      budget.Add(metrics::InstanceLabels(t->engine, t->index), *left);
    }
  }
}

}  // namespace fleet::modules
