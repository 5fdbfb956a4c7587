// The recovery requests fleetd makes, built from the fleet's `recovery`
// block: one place for what each pass covers, so the periodic passes and
// the validation before a state commit ask the same questions.
#ifndef FLEET_CORE_RECOVERY_REQUESTS_H_
#define FLEET_CORE_RECOVERY_REQUESTS_H_

#include <string>

#include "proto/fleet/config/v1/config.pb.h"
#include "proto/fleet/plugin/v1/recovery.pb.h"

namespace fleet::recovery {

// op over no rules yet, with the fleet's snapshot and quarantine dirs
// (under run_dir/recovery) and how many snapshots to keep.
fleet::plugin::v1::RecoveryRequest BaseRequest(fleet::plugin::v1::RecoveryRequest::Op op,
                                               const fleet::config::v1::Recovery& config,
                                               const std::string& run_dir);

// CHECK of the fleet's own protected files (the rules not about state);
// no rules: nothing to check.
fleet::plugin::v1::RecoveryRequest FleetCheck(const fleet::config::v1::Recovery& config,
                                              const std::string& run_dir);

// VALIDATE of one state work tree (the rules about state, under
// state_dir), written by `writer` ("ENGINE/N"); no rules: nothing to check.
fleet::plugin::v1::RecoveryRequest WorkTreeValidation(const fleet::config::v1::Recovery& config,
                                                      const std::string& run_dir,
                                                      const std::string& state_dir,
                                                      const std::string& writer);

// CLEAN: stale locks under run_dir/locks, temp files beside the protected
// files and in the state work trees (work_trees "": the fleet has no state).
fleet::plugin::v1::RecoveryRequest LeftoversClean(const fleet::config::v1::Recovery& config,
                                                  const std::string& run_dir,
                                                  const std::string& work_trees);

}  // namespace fleet::recovery

#endif  // FLEET_CORE_RECOVERY_REQUESTS_H_
