// Flag values of fleetd's own sub-commands (sync-state, kill-watch).
#ifndef FLEET_CORE_DAEMON_COMMAND_FLAGS_H_
#define FLEET_CORE_DAEMON_COMMAND_FLAGS_H_

#include <string>

#include "absl/time/time.h"

namespace fleet::daemon {

// value as a positive duration ("30s", "5m", "1h") into *d: "" when it is
// one, else the error naming flag and value.
std::string ParsePositiveDuration(const std::string& flag, const std::string& value,
                                  absl::Duration* d);

}  // namespace fleet::daemon

#endif  // FLEET_CORE_DAEMON_COMMAND_FLAGS_H_
