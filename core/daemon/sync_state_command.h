// `fleetd sync-state pull|publish|watch --dir DIR --remote URL ...`: what
// fleetd's state module does for one instance's work tree, without a
// fleetd: the same sync plugin, called the same way. It is how an exported
// fleet keeps `state: true` where fleetd does not run it (a Kubernetes
// pod's init container, its sidecar, and the loop of a cycle engine).
//   pull     brings DIR up to date (cloning it on first use). Without a
//            work tree yet it retries (2s doubling to 5m) until it has one;
//            with one, a failure is said and the worker goes on from it.
//   publish  commits what DIR holds and pushes it, once.
//   watch    publishes every --every (fleet's watchdog), retrying a failed
//            push with backoff, and once more on SIGTERM before it exits.
// One tree is worked by one call at a time: a flock on DIR.sync-lock. A
// call the plugin leaves unanswered past 2.5 minutes ends the command
// (exit 1; the lock is held until then), so a restart gets a fresh plugin.
#ifndef FLEET_CORE_DAEMON_SYNC_STATE_COMMAND_H_
#define FLEET_CORE_DAEMON_SYNC_STATE_COMMAND_H_

#include <string>
#include <vector>

namespace fleet::daemon {

// args: what follows `sync-state`. Returns the exit code: 0 done (pull:
// also when the worker goes on from its tree), 1 the sync failed or was
// interrupted, 2 usage.
int SyncStateCommand(const std::vector<std::string>& args);

}  // namespace fleet::daemon

#endif  // FLEET_CORE_DAEMON_SYNC_STATE_COMMAND_H_
