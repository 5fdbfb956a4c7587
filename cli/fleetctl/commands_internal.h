// What fleetctl's command files share: an RPC's failure in fleet's words,
// deadlines, and the one call every simple command makes.
#ifndef FLEET_CLI_FLEETCTL_COMMANDS_INTERNAL_H_
#define FLEET_CLI_FLEETCTL_COMMANDS_INTERNAL_H_

#include "absl/time/time.h"
#include "cli/fleetctl/commands.h"
#include "grpcpp/grpcpp.h"
#include "proto/fleet/control/v1/control.grpc.pb.h"

namespace fleet::cli {

// An RPC's failure in fleetctl's words and exit code. fleetd's own errors
// carry its message; what gRPC itself reports (deadlines, connections) is
// said again plainly, never printed as-is. waited: the call's deadline.
int FromRpc(const grpc::Status& status, const Globals& g, absl::Duration waited);
int FromRpc(const grpc::Status& status, const Globals& g);

void SetDeadline(grpc::ClientContext* context, absl::Duration timeout);

// Connect, call under the usual deadline: kOk, or the failure said (in
// fleet's words) and its exit code. when_refused: what to say before
// fleetd's own words when it refuses the request as invalid (exit 1).
template <typename Request, typename Response>
int Commands::Unary(grpc::Status (fleet::control::v1::FleetControl::Stub::*method)(
                        grpc::ClientContext*, const Request&, Response*),
                    const Request& request, Response* response, const char* when_refused) {
  int code = kOk;
  auto stub = Stub(&code);
  if (stub == nullptr) return code;
  grpc::ClientContext context;
  SetDeadline(&context, g_.timeout);
  grpc::Status rpc = ((*stub).*method)(&context, request, response);
  if (when_refused != nullptr && rpc.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    return Fail(kFailed, std::string(when_refused) + rpc.error_message());
  }
  return rpc.ok() ? kOk : FromRpc(rpc, g_);
}

}  // namespace fleet::cli

#endif  // FLEET_CLI_FLEETCTL_COMMANDS_INTERNAL_H_
