// What a recovery plan did, told as events: a file put back (and where its
// bad version was kept), a bad file with nothing to put back (said once
// while it stays bad for the same reason), locks broken, temp files removed,
// errors. One reporter for the fleet, so the periodic passes and the
// validation before each state commit never say the same thing twice.
#ifndef FLEET_CORE_RECOVERY_PLAN_REPORT_H_
#define FLEET_CORE_RECOVERY_PLAN_REPORT_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "proto/fleet/plugin/v1/recovery.pb.h"

namespace fleet::recovery {

// Not thread-safe: fleetd's loop thread uses it.
class PlanReporter {
 public:
  using Emit = std::function<void(const std::string& subject, const std::string& kind,
                                  const std::string& message)>;
  explicit PlanReporter(Emit emit) : emit_(std::move(emit)) {}

  // subject: "fleetd" or the writer ("ENGINE/N"). Returns "path: reason" of
  // each bad file the plan found (restored or not).
  std::vector<std::string> Report(const std::string& subject,
                                  const fleet::plugin::v1::RecoveryPlan& plan);

  // Actions taken since fleetd started, by kind: "restored", "quarantined"
  // (a bad version kept aside), "invalid" (bad, nothing to put back),
  // "lock_broken", "temp_removed", "error". Kinds a plugin invents are not
  // counted (a label's values stay few).
  static constexpr const char* kCountedKinds[] = {"restored",    "quarantined",  "invalid",
                                                  "lock_broken", "temp_removed", "error"};
  uint64_t count(const std::string& kind) const {
    auto it = counts_.find(kind);
    return it == counts_.end() ? 0 : it->second;
  }

 private:
  absl::flat_hash_map<std::string, uint64_t> counts_;
  Emit emit_;
  // Bad files already reported (path -> reason).
  absl::flat_hash_map<std::string, std::string> reported_;
};

}  // namespace fleet::recovery

#endif  // FLEET_CORE_RECOVERY_PLAN_REPORT_H_
