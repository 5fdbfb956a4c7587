// The state module's series: what each instance's syncs did since fleetd
// started (fleet_sync_*).
#include <algorithm>
#include <vector>

#include "core/metrics/series.h"
#include "core/modules/state/shared_state.h"

namespace fleet::modules {
namespace {
namespace ctl = ::fleet::control::v1;
}  // namespace

void SharedState::Count(bool pull, const fleet::plugin::v1::SyncResult& result, absl::Time now,
                        Track::Counts* counts) {
  for (const std::string& strategy : result.resolved_by()) ++counts->resolved_by[strategy];
  if (result.committed()) ++counts->commits;
  const bool conflict = result.unresolved_size() > 0 || result.refused_size() > 0;
  if (conflict) ++counts->unresolved;
  if (pull) {
    if (result.ok()) {
      counts->last_pull = now;
    } else if (!conflict) {
      ++counts->pull_failures;
    }
    return;
  }
  if (result.ok() && (result.committed() || result.attempts() > 0)) {
    ++counts->pushes;
  } else if (!result.ok() && !conflict) {
    ++counts->push_failures;
  }
}

void SharedState::FillMetrics(ctl::GetStatusResponse* status) const {
  struct Row {
    std::string engine;
    uint32_t index;
    const Track* track;
  };
  std::vector<Row> rows;
  for (const auto& [id, track] : tracks_) {
    const size_t slash = id.rfind('/');
    rows.push_back(
        {id.substr(0, slash), static_cast<uint32_t>(std::stoul(id.substr(slash + 1))), &track});
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.engine != b.engine ? a.engine < b.engine : a.index < b.index;
  });
  using metrics::Series;
  auto each = [&rows](Series series, auto value) {
    for (const Row& row : rows) {
      if (std::optional<double> v = value(*row.track)) {
        series.Add(metrics::InstanceLabels(row.engine, row.index), *v);
      }
    }
  };
  using Value = std::optional<double>;
  each(Series::Counter(status, "fleet_sync_commits_total", "Commits of the instance's state"),
       [](const Track& t) -> Value { return t.counts.commits; });
  each(Series::Counter(status, "fleet_sync_pushes_total",
                       "Publishes that reached the remote (after any retries)"),
       [](const Track& t) -> Value { return t.counts.pushes; });
  each(Series::Counter(status, "fleet_sync_push_failures_total",
                       "Publishes that did not reach the remote (unreachable, refused, errors; "
                       "retried with backoff)"),
       [](const Track& t) -> Value { return t.counts.push_failures; });
  each(Series::Counter(status, "fleet_sync_pull_failures_total",
                       "Pulls that failed (other than by a conflict)"),
       [](const Track& t) -> Value { return t.counts.pull_failures; });
  each(Series::Counter(status, "fleet_sync_conflicts_unresolved_total",
                       "Syncs that met a conflict no merge rule resolved (nothing is discarded)"),
       [](const Track& t) -> Value { return t.counts.unresolved; });
  each(Series::Gauge(status, "fleet_sync_ahead_commits",
                     "Local commits the remote does not have yet"),
       [](const Track& t) -> Value { return t.ahead; });
  const absl::Time now = host_->WallNow();
  each(Series::Gauge(status, "fleet_sync_last_pull_age_seconds",
                     "Since the last successful pull of the instance's state; absent before one"),
       [now](const Track& t) -> Value {
         if (!t.counts.last_pull.has_value()) return std::nullopt;
         return absl::ToDoubleSeconds(now - *t.counts.last_pull);
       });
  Series resolved = Series::Counter(status, "fleet_sync_conflicts_resolved_total",
                                    "Conflicting paths a merge rule resolved, by its strategy");
  for (const Row& row : rows) {
    for (const auto& [strategy, n] : row.track->counts.resolved_by) {
      metrics::Labels labels = metrics::InstanceLabels(row.engine, row.index);
      labels.emplace_back("strategy", strategy);
      resolved.Add(labels, static_cast<double>(n));
    }
  }
}

}  // namespace fleet::modules
