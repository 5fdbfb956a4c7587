// The fleetd commands exported units, pods and jobs run where fleetd does
// not: `fleetd sync-state` (an instance's shared state) and `fleetd
// kill-watch` (its kill condition). Each target quotes the words its way.
#ifndef FLEET_CORE_EXPORT_FLEET_COMMANDS_H_
#define FLEET_CORE_EXPORT_FLEET_COMMANDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "proto/fleet/config/v1/config.pb.h"

namespace fleet::exporting {

// `FLEETD sync-state OP --dir DIR` with the fleet's state block as flags:
// remote, branch, merge rules, catch-up, push attempts, network timeout,
// and for watch the watchdog as --every.
std::vector<std::string> SyncStateArgv(const std::string& fleetd,
                                       const fleet::config::v1::State& state, const std::string& op,
                                       const std::string& dir);

// `FLEETD kill-watch --condition ... --marker MARKER --grace G --` for the
// engine: goes before the worker's argv.
std::vector<std::string> KillWatchArgv(const std::string& fleetd,
                                       const fleet::config::v1::Engine& engine,
                                       const std::string& marker);

// d in whole seconds, rounded up.
int64_t WholeSeconds(absl::Duration d);

// A word for /bin/sh: as it is when nothing in it is special, else quoted.
std::string ShellQuote(const std::string& word);
std::string ShellLine(const std::vector<std::string>& words);

}  // namespace fleet::exporting

#endif  // FLEET_CORE_EXPORT_FLEET_COMMANDS_H_
