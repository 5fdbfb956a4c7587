// `fleetd export systemd|kubernetes CONFIG [-o DIR|-] ...`: the
// fleet file in another supervisor's terms (fleetctl export runs this, as
// fleetctl validate runs fleetd validate: fleetctl links no YAML parser).
#ifndef FLEET_CORE_DAEMON_EXPORT_COMMAND_H_
#define FLEET_CORE_DAEMON_EXPORT_COMMAND_H_

#include <string>
#include <vector>

namespace fleet::daemon {

// args: what follows `export`. Returns the exit code: 0 written, 1 a
// schedule or file refused, 2 usage, 78 an invalid config.
int ExportCommand(const std::vector<std::string>& args);

}  // namespace fleet::daemon

#endif  // FLEET_CORE_DAEMON_EXPORT_COMMAND_H_
