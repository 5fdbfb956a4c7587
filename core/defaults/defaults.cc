#include "core/defaults/defaults.h"

#include <stdlib.h>

namespace fleet::defaults {
namespace {

std::string Env(const char* name) {
  const char* value = getenv(name);
  return value == nullptr ? "" : value;
}

}  // namespace

std::string ControlDir(const std::string& run_dir) { return run_dir + "/ctl"; }
std::string SocketPath(const std::string& run_dir) { return ControlDir(run_dir) + "/fleetd.sock"; }
std::string PidFile(const std::string& run_dir) { return run_dir + "/fleetd.pid"; }
std::string EventJournal(const std::string& run_dir) { return run_dir + "/events.jsonl"; }
std::string LockFile(const std::string& run_dir) { return ControlDir(run_dir) + "/fleetd.lock"; }
std::string StopFlag(const std::string& run_dir) { return run_dir + "/stop"; }
std::string LocksDir(const std::string& run_dir) { return run_dir + "/locks"; }
std::string LogsDir(const std::string& run_dir) { return run_dir + "/logs"; }

std::string ConfigPath() {
  std::string path = Env("FLEET_CONFIG");
  return path.empty() ? "fleet.yaml" : path;
}

}  // namespace fleet::defaults
