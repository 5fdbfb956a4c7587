// A cron schedule in systemd's terms: the OnCalendar= lines of a timer
// that fire at exactly the slots fleet's own planner computes, or why they
// cannot.
#ifndef FLEET_CORE_EXPORT_SYSTEMD_CALENDAR_H_
#define FLEET_CORE_EXPORT_SYSTEMD_CALENDAR_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/schedule/cron.h"

namespace fleet::exporting {

struct OnCalendar {
  // Each an OnCalendar= value; a timer with several fires at their union
  // (how cron's "day of month OR day of week" is said).
  std::vector<std::string> lines;
  // Where systemd would differ from fleet, in words; "" when it never does.
  std::string differs;
};

// schedule: a calendar schedule (kCalendar). zone_name: the engine's
// `timezone:` ("" for the machine's; then no zone is written). Checks the
// zone's clock changes over the next 30 years from `from`: a slot in an
// hour the clocks skip runs at the instant after the jump under fleet and
// not at all under systemd, so such a schedule is said to differ.
OnCalendar ToOnCalendar(const schedule::Schedule& schedule, absl::string_view zone_name,
                        absl::TimeZone zone, absl::Time from);

}  // namespace fleet::exporting

#endif  // FLEET_CORE_EXPORT_SYSTEMD_CALENDAR_H_
