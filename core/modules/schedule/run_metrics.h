// The schedule module's series: runs by verdict, how long they took, the
// last success, what is left of intelligence budgets.
#ifndef FLEET_CORE_MODULES_SCHEDULE_RUN_METRICS_H_
#define FLEET_CORE_MODULES_SCHEDULE_RUN_METRICS_H_

#include <string>

#include "absl/container/node_hash_map.h"
#include "core/modules/schedule/intel_runs.h"
#include "core/modules/schedule/track.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::modules {

// A finished, skipped or missed run, counted (RunTrack's counters).
void CountRun(const fleet::control::v1::RunRecord& record, RunTrack* t);

void FillRunMetrics(const absl::node_hash_map<std::string, RunTrack>& tracks,
                    const IntelRuns& intel, fleet::control::v1::GetStatusResponse* status);

}  // namespace fleet::modules

#endif  // FLEET_CORE_MODULES_SCHEDULE_RUN_METRICS_H_
