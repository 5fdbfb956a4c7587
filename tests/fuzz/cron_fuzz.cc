// `schedule:` expressions, and the planner's walk over the calendar for
// whatever parses (in UTC and in a zone with DST).
#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "core/schedule/cron.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<fleet::schedule::Schedule> s = fleet::schedule::Schedule::Parse(text);
  if (!s.ok() || s->kind() != fleet::schedule::Schedule::Kind::kCalendar) return 0;
  absl::TimeZone zone = absl::UTCTimeZone();
  absl::TimeZone berlin;
  if (absl::LoadTimeZone("Europe/Berlin", &berlin)) zone = berlin;
  absl::Time t = absl::FromUnixSeconds(1798761600);  // 2027-01-01
  for (int i = 0; i < 3; ++i) {
    std::optional<absl::Time> next = s->NextAfter(t, zone);
    if (!next.has_value()) break;
    t = *next;
  }
  return 0;
}
