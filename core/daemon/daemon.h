// fleetd as a whole: load the config, lock the run directory, start the
// supervision loop and the control server, and run until shut down.
#ifndef FLEET_CORE_DAEMON_DAEMON_H_
#define FLEET_CORE_DAEMON_DAEMON_H_

#include <string>

namespace fleet::daemon {

struct DaemonOptions {
  std::string config_path;
  // Overrides the config's run_dir when set.
  std::string run_dir;
};

// fleetd's exit codes (documented in the README and `fleetd --help`).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitAlreadyRunning = 3;
inline constexpr int kExitBadConfig = 78;  // EX_CONFIG, as systemd knows it

// REQUIRES: called from main() before any other thread exists (it blocks the
// signals the loop reads through its signalfd).
int RunDaemon(const DaemonOptions& options);

// `fleetd validate PATH`: prints what would run, or every error. Exit code.
int ValidateConfig(const std::string& path);
// `fleetd run-dir PATH`: the run directory PATH's fleet uses (with
// run_dir_flag as --run-dir would), one line on stdout; for fleetctl, which
// reads no YAML itself.
int PrintRunDir(const std::string& path, const std::string& run_dir_flag);

}  // namespace fleet::daemon

#endif  // FLEET_CORE_DAEMON_DAEMON_H_
