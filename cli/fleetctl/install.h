// `fleetctl install systemd`: a unit that runs fleetd under systemd with
// Type=notify, a watchdog and Restart=always.
#ifndef FLEET_CLI_FLEETCTL_INSTALL_H_
#define FLEET_CLI_FLEETCTL_INSTALL_H_

#include <string>
#include <vector>

namespace fleet::cli {

// The unit's text for fleetd at fleetd_path on config_path (absolute paths).
std::string SystemdUnit(const std::string& fleetd_path, const std::string& config_path);

// fleetctl install systemd --config PATH [--unit-dir DIR] [--name NAME]
// [--print] [--force]: writes DIR/NAME.service (default
// /etc/systemd/system/fleetd.service as root, ~/.config/systemd/user
// otherwise) and says what to run next. Returns fleetctl's exit code.
int InstallSystemd(const std::vector<std::string>& args, const std::string& fleetd_path);

}  // namespace fleet::cli

#endif  // FLEET_CLI_FLEETCTL_INSTALL_H_
