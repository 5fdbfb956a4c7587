// fleetctl's connection to fleetd: the unix socket in the run directory.
#ifndef FLEET_CLI_FLEETCTL_CLIENT_H_
#define FLEET_CLI_FLEETCTL_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "proto/fleet/control/v1/control.grpc.pb.h"

namespace fleet::cli {

// A stub on <run_dir>/ctl/fleetd.sock. kUnavailable (fleetd not running) or
// kPermissionDenied (the run directory belongs to someone else), with a
// message that says which.
absl::StatusOr<std::unique_ptr<fleet::control::v1::FleetControl::Stub>> Connect(
    const std::string& run_dir);

}  // namespace fleet::cli

#endif  // FLEET_CLI_FLEETCTL_CLIENT_H_
