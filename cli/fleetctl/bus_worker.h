// The worker side of the work-bus for shell scripts: `fleetctl bus claim`,
// `complete`, `fail` and `heartbeat` work on the files under RUN_DIR/bus
// directly (core/bus/mailbox), so they need no daemon to be up.
#ifndef FLEET_CLI_FLEETCTL_BUS_WORKER_H_
#define FLEET_CLI_FLEETCTL_BUS_WORKER_H_

#include <string>
#include <vector>

namespace fleet::cli {

// verb: claim, complete, fail or heartbeat; args after it. Prints what a
// script needs (claim: the task as JSON) and returns fleetctl's exit code
// (claim: 3 when there is no task for the capability).
int BusWorker(const std::string& run_dir, const std::string& verb,
              const std::vector<std::string>& args);

}  // namespace fleet::cli

#endif  // FLEET_CLI_FLEETCTL_BUS_WORKER_H_
