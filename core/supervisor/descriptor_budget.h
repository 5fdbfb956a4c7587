// Whether fleetd may open the descriptors a config's instances need, and
// raising its limit where it may.
#ifndef FLEET_CORE_SUPERVISOR_DESCRIPTOR_BUDGET_H_
#define FLEET_CORE_SUPERVISOR_DESCRIPTOR_BUDGET_H_

#include <cstdint>
#include <string>

namespace fleet::supervisor {

// *file_limit: fleetd's descriptor limit (0: unknown), raised towards what
// `instances` need where the hard limit allows (root). Returns what an
// operator must do when it is still short, "" when it is enough.
std::string CheckDescriptorBudget(uint64_t instances, uint64_t* file_limit);

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_DESCRIPTOR_BUDGET_H_
