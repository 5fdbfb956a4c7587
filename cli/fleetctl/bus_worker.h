// The worker side of the work-bus for shell scripts: `fleetctl bus claim`,
// `complete`, `fail` and `heartbeat` work on the files under RUN_DIR/bus
// directly (core/bus/mailbox), so they need no daemon to be up.
#ifndef FLEET_CLI_FLEETCTL_BUS_WORKER_H_
#define FLEET_CLI_FLEETCTL_BUS_WORKER_H_

#include <string>

namespace fleet::cli {

// One worker verb, as parsed from the command line.
struct BusWorkerCall {
  std::string verb;         // claim, complete, fail or heartbeat
  std::string worker;       // "": ENGINE.N from FLEET_ENGINE and FLEET_INSTANCE
  std::string capability;   // claim
  std::string id;           // complete, fail, heartbeat: RUN~TASK~ATTEMPT
  std::string result_file;  // complete: '-' for stdin
  std::string reason;       // fail
};

// Prints what a script needs (claim: the task as JSON) and returns
// fleetctl's exit code (claim: 3 when there is no task for the capability).
int BusWorker(const std::string& run_dir, const BusWorkerCall& call);

}  // namespace fleet::cli

#endif  // FLEET_CLI_FLEETCTL_BUS_WORKER_H_
