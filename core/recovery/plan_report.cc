#include "core/recovery/plan_report.h"

#include <map>

#include "absl/strings/str_cat.h"

namespace fleet::recovery {

std::vector<std::string> PlanReporter::Report(const std::string& subject,
                                              const fleet::plugin::v1::RecoveryPlan& plan) {
  std::vector<std::string> bad;
  // Where each bad version went, to say so in the restore's event.
  std::map<std::string, std::string> kept;
  for (const auto& a : plan.actions()) {
    if (a.kind() == "quarantined") kept[a.path()] = a.detail();
  }
  for (const auto& a : plan.actions()) {
    const std::string& kind = a.kind();
    const std::string counted = kind == "no_snapshot" ? "invalid" : kind;
    for (const char* known : kCountedKinds) {
      if (counted == known) ++counts_[counted];
    }
    if (kind == "snapshotted") {
      reported_.erase(a.path());
    } else if (kind == "restored") {
      reported_.erase(a.path());
      bad.push_back(absl::StrCat(a.path(), ": ", a.reason()));
      std::string message =
          absl::StrCat(a.path(), ": ", a.reason(), "; put back its last good version");
      if (kept.count(a.path()))
        absl::StrAppend(&message, "; the bad one is kept at ", kept[a.path()]);
      if (subject != "fleetd") absl::StrAppend(&message, " (written by ", subject, ")");
      emit_(subject, "file_restored", message);
    } else if (kind == "no_snapshot") {
      bad.push_back(absl::StrCat(a.path(), ": ", a.reason()));
      auto [it, fresh] = reported_.emplace(a.path(), a.reason());
      if (!fresh && it->second == a.reason()) continue;
      it->second = a.reason();
      emit_(subject, "file_invalid", absl::StrCat(a.path(), ": ", a.reason()));
    } else if (kind == "lock_broken" || kind == "temp_removed") {
      emit_(subject, kind, absl::StrCat(a.path(), ": ", a.reason()));
    } else if (kind == "error") {
      emit_(subject, "recovery_error", absl::StrCat(a.path(), ": ", a.reason()));
    }
  }
  return bad;
}

}  // namespace fleet::recovery
