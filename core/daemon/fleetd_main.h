// fleetd's command line: `fleetd [--config PATH] [--run-dir DIR]`, `fleetd
// validate PATH`, `fleetd run-dir PATH`, `fleetd pipe-keeper RUN_DIR`. Here
// rather than in cli/fleetd.cc so a test build of fleetd (with a faulty
// Env) runs exactly the same daemon.
#ifndef FLEET_CORE_DAEMON_FLEETD_MAIN_H_
#define FLEET_CORE_DAEMON_FLEETD_MAIN_H_

namespace fleet::daemon {

// Returns fleetd's exit code.
int FleetdMain(int argc, char** argv);

}  // namespace fleet::daemon

#endif  // FLEET_CORE_DAEMON_FLEETD_MAIN_H_
