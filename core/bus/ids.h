// Names on the bus (runs, tasks, capabilities, workers) become file names:
// [A-Za-z0-9._-], 1 to 100 characters, no "..". A leaf library, so that
// fleetctl can check names without linking the DAG parser.
#ifndef FLEET_CORE_BUS_IDS_H_
#define FLEET_CORE_BUS_IDS_H_

#include <cstddef>
#include <string>

namespace fleet::bus {

inline constexpr size_t kMaxId = 100;

bool IsValidId(const std::string& id);

}  // namespace fleet::bus

#endif  // FLEET_CORE_BUS_IDS_H_
