#include "core/modules/log_hygiene/log_janitor.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"

namespace fleet::modules {

bool IsRotatedLog(const std::string& name) {
  size_t at = name.rfind(".log.");
  if (at == std::string::npos) return false;
  uint32_t k = 0;
  return absl::SimpleAtoi(name.substr(at + 5), &k) && k > 0;
}

TrimPlan PlanLogTrim(std::vector<LogFile> files, absl::Time now,
                     const std::function<absl::Duration(const std::string&)>& max_age_of,
                     uint64_t budget) {
  TrimPlan plan;
  uint64_t total = 0;
  std::vector<LogFile> rotated;
  for (const LogFile& f : files) {
    if (!IsRotatedLog(f.name)) {
      total += f.size;
      continue;
    }
    const absl::Duration cap = max_age_of(f.name);
    if (cap > absl::ZeroDuration() && now - f.modified > cap) {
      plan.too_old.push_back(f.name);
      continue;
    }
    total += f.size;
    rotated.push_back(f);
  }
  if (budget == 0 || total <= budget) return plan;
  std::sort(rotated.begin(), rotated.end(),
            [](const LogFile& a, const LogFile& b) { return a.modified < b.modified; });
  for (const LogFile& f : rotated) {
    if (total <= budget) break;
    plan.over_budget.push_back(f.name);
    total -= f.size;
  }
  return plan;
}

}  // namespace fleet::modules
