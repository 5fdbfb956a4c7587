// Protected files: each file a rule matches is judged (empty, shrunk past the
// rule's ratio against its last good version, unparsable, missing a required
// key). A good file becomes the newest snapshot; a bad one is replaced by its
// last good snapshot, atomically, and kept in quarantine. Std only.
#ifndef FLEET_PLUGINS_RECOVERY_GUARD_H_
#define FLEET_PLUGINS_RECOVERY_GUARD_H_

#include <string>

#include "proto/fleet/plugin/v1/recovery.pb.h"

namespace fleet::plugins::recovery {

struct GuardOptions {
  // Files changed more recently than this are left for the next pass (a
  // writer may be mid-write); 0 judges everything (before a commit, when the
  // writer has exited).
  int settle_ms = 0;
};

// Runs CHECK or VALIDATE over request.rules(), appending to plan.
void GuardFiles(const fleet::plugin::v1::RecoveryRequest& request, const GuardOptions& options,
                fleet::plugin::v1::RecoveryPlan* plan);

}  // namespace fleet::plugins::recovery

#endif  // FLEET_PLUGINS_RECOVERY_GUARD_H_
