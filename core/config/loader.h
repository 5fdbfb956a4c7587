// Loads a fleet's configuration: one fleet file, a directory of
// one-engine-per-file YAMLs (conf.d style), or a fleet file naming engine_dirs.
#ifndef FLEET_CORE_CONFIG_LOADER_H_
#define FLEET_CORE_CONFIG_LOADER_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/fleet/config/v1/config.pb.h"

namespace fleet::config {

struct LoadedConfig {
  // Validated, with defaults filled in and absolute paths.
  fleet::config::v1::FleetConfig config;
  // The path loaded, made absolute.
  std::string path;
  // Every file read, in order.
  std::vector<std::string> files;
  // Doubts that do not refuse the config ("file:line:col: ..."): a cwd
  // that does not exist, a command not found in PATH.
  std::vector<std::string> warnings;
  // Where engine i's keys were written: field number -> "file:line:col"
  // (0: the engine itself); only keys that were set.
  std::vector<std::map<int, std::string>> engine_keys;

  // "file:line:col" of engine i's key `field`, else of the engine, else path.
  std::string KeyWhere(int engine, int field) const;
};

// path is a YAML file or a directory. In a directory, fleet.yaml (optional)
// holds fleet settings and every other *.yaml / *.yml is one engine.
// Errors: kNotFound (no such path), kInvalidArgument with one line per problem,
// each "file:line:col: what is wrong and what is expected".
// run_dir_override (fleetd --run-dir), when set, replaces the file's
// run_dir before defaults are derived from it; relative: to the current
// directory.
absl::StatusOr<LoadedConfig> LoadConfig(const std::string& path,
                                        const std::string& run_dir_override = "");

// The same for text in memory (tests, fleetctl init's self-check).
absl::StatusOr<LoadedConfig> LoadConfigFromString(const std::string& yaml,
                                                  const std::string& name,
                                                  const std::string& base_dir);

}  // namespace fleet::config

#endif  // FLEET_CORE_CONFIG_LOADER_H_
