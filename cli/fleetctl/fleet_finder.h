// Which fleet a fleetctl command is about, found the way an operator
// expects: --run-dir DIR; else -c/--config FILE (its run_dir); else
// ./fleet.yaml in the current directory; else $FLEET_RUN_DIR (set by fleetd
// for every instance); else ~/.fleet/run. fleetctl reads no YAML: a config's
// run_dir comes from `fleetd run-dir FILE`, the daemon's own loader.
#ifndef FLEET_CLI_FLEETCTL_FLEET_FINDER_H_
#define FLEET_CLI_FLEETCTL_FLEET_FINDER_H_

#include <string>
#include <vector>

namespace fleet::cli {

struct FleetPlace {
  std::string run_dir;  // "" when `from` could not be read (why: in note)
  std::string from;  // "--run-dir", "-c x.yaml", "./fleet.yaml", "$FLEET_RUN_DIR", "~/.fleet/run"
  std::string note;  // why it gave no run dir
};

// Every place to look, in order (only the flag's when --run-dir or
// --config is given).
std::vector<FleetPlace> FleetPlaces(const std::string& run_dir_flag, const std::string& config_flag,
                                    const std::string& fleetd_path);

// The first place whose fleetd socket exists; else the first with a run
// dir (file-protocol commands need no fleetd); "" when none has one.
std::string ChooseRunDir(const std::vector<FleetPlace>& places);

// "X (from ./fleet.yaml), Y ($FLEET_RUN_DIR)": for "not running" errors.
std::string DescribePlaces(const std::vector<FleetPlace>& places);

}  // namespace fleet::cli

#endif  // FLEET_CLI_FLEETCTL_FLEET_FINDER_H_
