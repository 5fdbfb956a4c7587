// A DAG file (YAML or JSON) read into fleet.bus.v1.Dag and checked: ids,
// capabilities, needs, cycles and inputs, every error at its file:line:column.
// Defaults are filled in (trigger rule all_success, timeout 10m, retry
// delay 10s); an input_file is read (beside the DAG file) into input.
#ifndef FLEET_CORE_BUS_DAG_FILE_H_
#define FLEET_CORE_BUS_DAG_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "core/bus/ids.h"
#include "proto/fleet/bus/v1/bus.pb.h"

namespace fleet::bus {

absl::StatusOr<fleet::bus::v1::Dag> LoadDagFile(const std::string& path);
// `name` is used in errors (and as the default DAG name); input files are
// looked up in base_dir.
absl::StatusOr<fleet::bus::v1::Dag> LoadDagFromString(const std::string& text,
                                                      const std::string& name,
                                                      const std::string& base_dir);

}  // namespace fleet::bus

#endif  // FLEET_CORE_BUS_DAG_FILE_H_
