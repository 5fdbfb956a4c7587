// The fleetd commands exported units, pods and jobs run where fleetd does
// not: `fleetd sync-state` (an instance's shared state) and `fleetd
// kill-watch` (its kill condition). Each target quotes the words its way.
#ifndef FLEET_CORE_EXPORT_FLEET_COMMANDS_H_
#define FLEET_CORE_EXPORT_FLEET_COMMANDS_H_

#include <string>
#include <vector>

#include "proto/fleet/config/v1/config.pb.h"

namespace fleet::exporting {

// The flags of `fleetd sync-state OP --dir DIR` from the fleet's state
// block: remote, branch, merge rules, catch-up, push attempts, network
// timeout, and for watch the watchdog as --every.
std::vector<std::string> SyncStateFlags(const fleet::config::v1::State& state,
                                        const std::string& op);

// `kill-watch --condition ... --marker MARKER --grace G --` for the
// engine (put after fleetd's path and before the worker's argv).
std::vector<std::string> KillWatchWords(const fleet::config::v1::Engine& engine,
                                        const std::string& marker);

// A word for /bin/sh: as it is when nothing in it is special, else quoted.
std::string ShellQuote(const std::string& word);
std::string ShellLine(const std::vector<std::string>& words);

}  // namespace fleet::exporting

#endif  // FLEET_CORE_EXPORT_FLEET_COMMANDS_H_
