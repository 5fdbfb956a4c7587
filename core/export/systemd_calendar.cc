#include "core/export/systemd_calendar.h"

#include <algorithm>
#include <bitset>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace fleet::exporting {
namespace {

// "*" when every value from lo to hi is set, else "05,10,30".
template <size_t N>
std::string Values(const std::bitset<N>& bits, int lo, int hi) {
  std::vector<std::string> set;
  for (int i = lo; i <= hi; ++i) {
    if (bits[static_cast<size_t>(i)]) set.push_back(absl::StrFormat("%02d", i));
  }
  return static_cast<int>(set.size()) == hi - lo + 1 ? "*" : absl::StrJoin(set, ",");
}

std::string Weekdays(const std::bitset<7>& bits) {
  static constexpr const char* kNames[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  std::vector<std::string> set;
  for (int i = 0; i < 7; ++i) {
    if (bits[static_cast<size_t>(i)]) set.push_back(kNames[i]);
  }
  return absl::StrJoin(set, ",");
}

// The first slot that falls in an hour the zone's clocks skip, within 30
// years; "" when none does.
std::string SkippedSlot(const schedule::Schedule& schedule, absl::TimeZone zone, absl::Time from) {
  absl::TimeZone::CivilTransition transition;
  absl::Time t = from;
  const absl::Time until = from + absl::Hours(24 * 366 * 30);
  while (t < until && zone.NextTransition(t, &transition)) {
    if (transition.to > transition.from) {  // A jump forward: [from, to) never happens.
      for (absl::CivilMinute m = absl::CivilMinute(transition.from);
           m < absl::CivilMinute(transition.to); ++m) {
        if (schedule.Matches(m)) return absl::FormatCivilTime(m);
      }
    }
    // The instant of the change (the civil time on the side that is
    // skipped or repeated names it), and on from there.
    const absl::Time at = transition.to > transition.from ? zone.At(transition.from).trans
                                                          : zone.At(transition.to).trans;
    t = std::max(at, t + absl::Seconds(1));
  }
  return "";
}

}  // namespace

OnCalendar ToOnCalendar(const schedule::Schedule& schedule, absl::string_view zone_name,
                        absl::TimeZone zone, absl::Time from) {
  OnCalendar out;
  const std::string time =
      absl::StrCat(Values(schedule.hours(), 0, 23), ":", Values(schedule.minutes(), 0, 59), ":00");
  const std::string months = Values(schedule.months(), 1, 12);
  const std::string suffix = zone_name.empty() ? "" : absl::StrCat(" ", zone_name);
  const std::string by_day =
      absl::StrCat("*-", months, "-", Values(schedule.days(), 1, 31), " ", time, suffix);
  const std::string by_weekday =
      absl::StrCat(Weekdays(schedule.weekdays()), " *-", months, "-* ", time, suffix);
  // cron's rule: both day fields restricted, either matches (a union of
  // two lines); one restricted, it alone decides.
  if (schedule.days_restricted() && schedule.weekdays_restricted()) {
    out.lines = {by_day, by_weekday};
  } else if (schedule.weekdays_restricted()) {
    out.lines = {by_weekday};
  } else {
    out.lines = {by_day};
  }
  if (const std::string skipped = SkippedSlot(schedule, zone, from); !skipped.empty()) {
    out.differs = absl::StrCat("the slot at ", skipped, " falls in an hour ",
                               zone_name.empty() ? "the machine's time zone" : zone_name,
                               " skips: fleet runs it at the instant after the jump, systemd "
                               "skips it");
  }
  return out;
}

}  // namespace fleet::exporting
