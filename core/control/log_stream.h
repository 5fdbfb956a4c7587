// `fleetctl logs`, fleetd's side: the captured logs of some instances, the
// last N lines of each merged by time, then (when following) what each
// writes next. Reading files touches no supervisor state: this runs on the
// RPC's own thread, never on the supervision loop.
#ifndef FLEET_CORE_CONTROL_LOG_STREAM_H_
#define FLEET_CORE_CONTROL_LOG_STREAM_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "proto/fleet/control/v1/control.grpc.pb.h"

namespace fleet::control {

// logs: (instance id, live log path) in the order to show them. stop: true
// once fleetd is going away (a follow ends).
grpc::Status StreamLogs(const std::vector<std::pair<std::string, std::string>>& logs,
                        const fleet::control::v1::GetLogsRequest& request,
                        grpc::ServerContext* context,
                        grpc::ServerWriter<fleet::control::v1::LogChunk>* writer,
                        const std::function<bool()>& stop);

}  // namespace fleet::control

#endif  // FLEET_CORE_CONTROL_LOG_STREAM_H_
