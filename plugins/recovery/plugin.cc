// fleet.recovery.files: protected files (snapshots, restore, quarantine),
// validation of state before a commit, and what killed processes leave
// behind (dead owners' locks, Git lock files, temp files). Bad requests are
// refused with the reason; nothing is deleted that could be the operator's.
#include <memory>
#include <string>

#include "plugins/recovery/guard.h"
#include "plugins/recovery/leftovers.h"
#include "plugins/sdk/sdk.h"
#include "proto/fleet/plugin/v1/recovery.pb.h"

namespace fleet::plugins::recovery {
namespace {

using fleet::plugin::v1::RecoveryPlan;
using fleet::plugin::v1::RecoveryRequest;
using fleet::sdk::Outcome;

// A periodic pass leaves files younger than this alone (maybe mid-write).
constexpr int kSettleMs = 1000;

bool Absolute(const std::string& p) { return !p.empty() && p[0] == '/'; }

class FileRecovery {
 public:
  static std::unique_ptr<FileRecovery> Create(const fleet::sdk::Host&, const std::string&,
                                              std::string*) {
    return std::make_unique<FileRecovery>();
  }

  Outcome Recover(const RecoveryRequest& request, RecoveryPlan* plan, std::string* error) {
    for (const auto& rule : request.rules()) {
      if (!Absolute(rule.glob())) {
        *error = "protected path must be absolute, not '" + rule.glob() + "'";
        return Outcome::kBadRequest;
      }
      if (rule.min_size_ratio() < 0 || rule.min_size_ratio() > 1) {
        *error = "min_size_ratio of " + rule.glob() + " must be between 0 and 1";
        return Outcome::kBadRequest;
      }
      const std::string& f = rule.format();
      if (!f.empty() && f != "json" && f != "yaml" && f != "text") {
        *error = "unknown format '" + f + "' for " + rule.glob() + " (json, yaml or text)";
        return Outcome::kBadRequest;
      }
    }
    switch (request.op()) {
      case RecoveryRequest::OP_CHECK:
      case RecoveryRequest::OP_VALIDATE:
        if (!Absolute(request.snapshot_dir()) || !Absolute(request.quarantine_dir())) {
          *error = "snapshot_dir and quarantine_dir must be absolute paths";
          return Outcome::kBadRequest;
        }
        GuardFiles(request,
                   {request.op() == RecoveryRequest::OP_CHECK ? kSettleMs : 0}, plan);
        return Outcome::kOk;
      case RecoveryRequest::OP_CLEAN:
        CleanLeftovers(request, plan);
        return Outcome::kOk;
      default:
        *error = "unknown recovery op " + std::to_string(request.op());
        return Outcome::kBadRequest;
    }
  }
};

}  // namespace
}  // namespace fleet::plugins::recovery

FLEET_RECOVERY_PLUGIN(fleet::plugins::recovery::FileRecovery, "fleet.recovery.files", "0.1.0")
