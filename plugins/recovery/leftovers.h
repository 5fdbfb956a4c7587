// What killed processes leave behind: mkdir locks whose owner is dead, Git
// lock files nobody has open, temp files of interrupted atomic writes
// (NAME.tmp.PID, PID dead). Each removal is one action in the plan. Std only.
#ifndef FLEET_PLUGINS_RECOVERY_LEFTOVERS_H_
#define FLEET_PLUGINS_RECOVERY_LEFTOVERS_H_

#include "proto/fleet/plugin/v1/recovery.pb.h"

namespace fleet::plugins::recovery {

void CleanLeftovers(const fleet::plugin::v1::RecoveryRequest& request,
                    fleet::plugin::v1::RecoveryPlan* plan);

}  // namespace fleet::plugins::recovery

#endif  // FLEET_PLUGINS_RECOVERY_LEFTOVERS_H_
