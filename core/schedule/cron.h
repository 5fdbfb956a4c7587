// When a cron or intelligence engine runs: the `schedule:` expression.
//
//   5 fields        minute hour day-of-month month day-of-week, each a list of
//                   `*`, `N`, `N-M`, with an optional `/STEP`; month and
//                   weekday names (jan..dec, sun..sat); weekday 0 and 7 are
//                   Sunday. When both day fields are restricted a day matches
//                   either (Vixie cron's rule), otherwise the restricted one.
//   @hourly @daily @midnight @weekly @monthly @yearly @annually
//   @reboot         once when fleetd starts, if it has not run since boot
//   @every 90s      a fixed period on the monotonic clock (not the wall clock)
//
// Wall-clock schedules are computed in a time zone (the engine's `timezone:`,
// default the machine's). Across a DST change: a slot in the hour the clocks
// skip runs once, at the instant after the jump; a slot in the hour they
// repeat runs once, at its first occurrence.
#ifndef FLEET_CORE_SCHEDULE_CRON_H_
#define FLEET_CORE_SCHEDULE_CRON_H_

#include <bitset>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace fleet::schedule {

class Schedule {
 public:
  enum class Kind { kCalendar, kEvery, kReboot };

  // Parses `text`; an error names the 1-based column of what is wrong
  // ("column 3: 61 is out of range for the minute (0-59)").
  static absl::StatusOr<Schedule> Parse(absl::string_view text);

  Kind kind() const { return kind_; }
  // kEvery: the period.
  absl::Duration every() const { return every_; }
  const std::string& text() const { return text_; }

  // kCalendar: the first slot strictly after `after`, in `zone`; nullopt when
  // there is none within 30 years (e.g. "0 0 30 2 *": February 30th).
  std::optional<absl::Time> NextAfter(absl::Time after, absl::TimeZone zone) const;

  // The longest gap between two slots, over the coming years from `from`
  // (the "expected period" a health check allows); every() for kEvery,
  // InfiniteDuration() for kReboot.
  absl::Duration LongestGap(absl::Time from, absl::TimeZone zone) const;

  // kCalendar: the fields as parsed (for translating the schedule into
  // another scheduler's terms). *_restricted: the field was not `*`.
  const std::bitset<60>& minutes() const { return minutes_; }
  const std::bitset<24>& hours() const { return hours_; }
  const std::bitset<32>& days() const { return days_; }
  const std::bitset<13>& months() const { return months_; }
  const std::bitset<7>& weekdays() const { return weekdays_; }
  bool days_restricted() const { return days_restricted_; }
  bool weekdays_restricted() const { return weekdays_restricted_; }
  // kCalendar: the civil minute is one of the schedule's slots.
  bool Matches(const absl::CivilMinute& minute) const {
    return months_[static_cast<size_t>(minute.month())] && DayMatches(absl::CivilDay(minute)) &&
           hours_[static_cast<size_t>(minute.hour())] &&
           minutes_[static_cast<size_t>(minute.minute())];
  }

 private:
  bool DayMatches(const absl::CivilDay& day) const;

  Kind kind_ = Kind::kCalendar;
  std::string text_;
  absl::Duration every_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1..31
  std::bitset<13> months_;   // 1..12
  std::bitset<7> weekdays_;  // 0 = Sunday
  bool days_restricted_ = false;
  bool weekdays_restricted_ = false;
};

}  // namespace fleet::schedule

#endif  // FLEET_CORE_SCHEDULE_CRON_H_
