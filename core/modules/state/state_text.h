// How the state module says things: short heads, wall times, ages.
#ifndef FLEET_CORE_MODULES_STATE_STATE_TEXT_H_
#define FLEET_CORE_MODULES_STATE_STATE_TEXT_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace fleet::modules {

inline std::string ShortHead(const std::string& head) {
  return head.empty() ? "(no commit)" : head.substr(0, 7);
}

inline std::string WallTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", t, absl::LocalTimeZone());
}

inline std::string Ago(absl::Duration d) {
  if (d < absl::Seconds(1)) return "just now";
  return absl::StrCat(absl::FormatDuration(absl::Trunc(d, absl::Seconds(1))), " ago");
}

}  // namespace fleet::modules

#endif  // FLEET_CORE_MODULES_STATE_STATE_TEXT_H_
