// `fleetd kill-watch --condition EXPR [--metrics PATH] [--marker PATH] --
// COMMAND...`: an engine's kill condition without a fleetd, for exported
// fleets (a Kubernetes container runs its worker under it). It runs
// COMMAND in its own process group, passes its output through while
// reading FLEET_METRIC lines from it, reads the metrics file every
// --every, and when the condition holds, stops the worker for good: the
// marker file records why (it lives on a volume, so a restarted container
// sees it too), the group gets SIGTERM and, after --grace, SIGKILL, and
// kill-watch waits until the marker is removed before it runs COMMAND
// again (the operator's `fleetctl start`). SIGTERM and SIGINT are passed
// to the worker; kill-watch exits as the worker did.
#ifndef FLEET_CORE_DAEMON_KILL_WATCH_COMMAND_H_
#define FLEET_CORE_DAEMON_KILL_WATCH_COMMAND_H_

#include <string>
#include <vector>

namespace fleet::daemon {

// args: what follows `kill-watch`. Returns the worker's exit code (128 +
// signal when killed), 0 when stopped while parked, 2 usage.
int KillWatchCommand(const std::vector<std::string>& args);

}  // namespace fleet::daemon

#endif  // FLEET_CORE_DAEMON_KILL_WATCH_COMMAND_H_
