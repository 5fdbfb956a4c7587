// Paths and defaults shared by fleetd and fleetctl (containerd's defaults/).
#ifndef FLEET_CORE_DEFAULTS_DEFAULTS_H_
#define FLEET_CORE_DEFAULTS_DEFAULTS_H_

#include <string>

namespace fleet::defaults {

inline constexpr char kVersion[] = "0.1.0";

// The run directory when the config names none; "~" is $HOME.
inline constexpr char kRunDir[] = "~/.fleet/run";

// Inside the run directory.
std::string ControlDir(const std::string& run_dir);   // 0700
std::string SocketPath(const std::string& run_dir);   // 0600, in ControlDir
std::string PidFile(const std::string& run_dir);
// Every event as a JSON line (core/supervisor/event_journal.h).
std::string EventJournal(const std::string& run_dir);
std::string LockFile(const std::string& run_dir);     // flock: one fleetd per run dir
std::string StopFlag(const std::string& run_dir);
std::string LocksDir(const std::string& run_dir);
std::string LogsDir(const std::string& run_dir);

// The config fleetd reads when none is given: $FLEET_CONFIG, else ./fleet.yaml.
std::string ConfigPath();

}  // namespace fleet::defaults

#endif  // FLEET_CORE_DEFAULTS_DEFAULTS_H_
