// fleet's series, from a status answer: fleetd itself (build, uptime,
// descriptors, memory, loop passes), every instance (up, state, restarts,
// start time, CPU, memory, health, kill condition, dropped output), and
// scheduled runs (the latest, the next). Named and labelled by
// Prometheus' conventions: base units, `_total` counters, labels `engine`
// and `index` (never a pid or a run id, never `instance`, which Prometheus
// gives every target).
#ifndef FLEET_CORE_METRICS_FLEET_METRICS_H_
#define FLEET_CORE_METRICS_FLEET_METRICS_H_

#include <string>

#include "core/metrics/exposition.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::metrics {

// The exposition of status (a whole answer, usage filled in).
std::string RenderFleetMetrics(const fleet::control::v1::GetStatusResponse& status, Format format);

}  // namespace fleet::metrics

#endif  // FLEET_CORE_METRICS_FLEET_METRICS_H_
