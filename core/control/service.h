// The FleetControl gRPC service. Handlers never touch supervisor state: each
// posts a closure to the supervision loop and waits (bounded) for its answer.
#ifndef FLEET_CORE_CONTROL_SERVICE_H_
#define FLEET_CORE_CONTROL_SERVICE_H_

#include <memory>
#include <string>
#include <vector>

#include "core/control/peer_book.h"
#include "core/control/features.h"
#include "core/supervisor/event_log.h"
#include "core/supervisor/supervisor.h"
#include "proto/fleet/control/v1/control.grpc.pb.h"

namespace fleet::control {

// features: the modules called directly (null ones are off; calls say so).
// plugins: what fleetd loaded or refused at start (read-only afterwards).
// peers: who is on each connection, for the record of commands that change
// the fleet (outlives the service; may be null).
std::unique_ptr<fleet::control::v1::FleetControl::Service> NewControlService(
    supervisor::Supervisor* supervisor, ControlFeatures features, supervisor::EventLog* events,
    std::string run_dir,
    std::vector<fleet::control::v1::PluginInfo> plugins, const PeerBook* peers);

}  // namespace fleet::control

#endif  // FLEET_CORE_CONTROL_SERVICE_H_
