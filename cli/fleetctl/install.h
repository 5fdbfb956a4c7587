// `fleetctl install systemd`: a unit that runs fleetd under systemd with
// Type=notify, a watchdog and Restart=always.
#ifndef FLEET_CLI_FLEETCTL_INSTALL_H_
#define FLEET_CLI_FLEETCTL_INSTALL_H_

#include <string>

namespace fleet::cli {

// The unit's text for fleetd at fleetd_path on config_path (absolute paths).
std::string SystemdUnit(const std::string& fleetd_path, const std::string& config_path);

// `fleetctl install systemd`, as parsed from the command line.
struct SystemdInstall {
  std::string config;    // The fleet file (required).
  std::string unit_dir;  // "": /etc/systemd/system as root, ~/.config/systemd/user otherwise.
  std::string name = "fleetd";
  bool print = false;  // Print the unit instead of writing it.
  bool force = false;  // Replace a unit that differs (changed by hand).
};

// Writes UNIT_DIR/NAME.service and says what to run next. Returns
// fleetctl's exit code.
int InstallSystemd(const SystemdInstall& request, const std::string& fleetd_path);

}  // namespace fleet::cli

#endif  // FLEET_CLI_FLEETCTL_INSTALL_H_
