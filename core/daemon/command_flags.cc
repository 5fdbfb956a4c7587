#include "core/daemon/command_flags.h"

#include "absl/strings/str_cat.h"

namespace fleet::daemon {

std::string ParsePositiveDuration(const std::string& flag, const std::string& value,
                                  absl::Duration* d) {
  if (absl::ParseDuration(value, d) && *d > absl::ZeroDuration()) return "";
  return absl::StrCat(flag, " '", value, "' is not a positive duration (30s, 5m, 1h)");
}

}  // namespace fleet::daemon
