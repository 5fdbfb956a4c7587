// Semantic checks and defaults for a parsed FleetConfig. After this, every
// field fleetd reads has its effective value and every path is absolute.
#ifndef FLEET_CORE_CONFIG_VALIDATE_H_
#define FLEET_CORE_CONFIG_VALIDATE_H_

#include <string>
#include <vector>

#include "core/yaml/source_map.h"
#include "proto/fleet/config/v1/config.pb.h"

namespace fleet::config {

// Fills defaults (see config.proto for each), resolves relative paths against
// base_dir, and appends one "file:line:col: message" per problem to errors,
// and one per doubt (a cwd that does not exist, a program not found) to
// warnings (may be null).
void ValidateAndComplete(const std::string& base_dir, const yaml::SourceMap& map,
                         fleet::config::v1::FleetConfig* config,
                         std::vector<std::string>* errors,
                         std::vector<std::string>* warnings = nullptr);

// Engine names: [A-Za-z0-9][A-Za-z0-9._-]*, at most 64 characters.
bool IsValidEngineName(const std::string& name);

// The strategies a merge rule may name (state.merge[].strategy).
const std::vector<std::string>& MergeStrategies();

}  // namespace fleet::config

#endif  // FLEET_CORE_CONFIG_VALIDATE_H_
