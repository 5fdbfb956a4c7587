#include "core/supervisor/descriptor_budget.h"

#include "absl/strings/str_cat.h"
#include "core/log/log.h"
#include "core/os/process.h"

namespace fleet::supervisor {

std::string CheckDescriptorBudget(uint64_t instances, uint64_t* file_limit) {
  // Each instance holds its two output FIFOs and its log open, an adopted
  // one its pidfd too; fleetd itself, its plugins and clients about 64.
  constexpr uint64_t kPerInstance = 4, kFleetd = 64;
  const uint64_t need = kFleetd + kPerInstance * instances;
  if (*file_limit == 0 || need <= *file_limit) return "";
  const os::FileLimit raised = os::RaiseFileLimit(need);
  if (raised.now > *file_limit) {
    log::Info(absl::StrCat("descriptor limit raised from ", *file_limit, " to ", raised.now,
                           " for ", instances, " instances"));
    *file_limit = raised.now;
  }
  if (need <= *file_limit) return "";
  return absl::StrCat(instances, " instances need about ", need,
                      " open descriptors and fleetd may have ", *file_limit,
                      ": spawns will fail with EMFILE. Raise the hard limit (ulimit -Hn, or "
                      "LimitNOFILE= in fleetd's systemd unit) and restart fleetd");
}

}  // namespace fleet::supervisor
