// Every translated schedule, slot by slot against systemd's own
// calculation (`systemd-analyze calendar`): the next 500 slots agree, DST
// days included, or the translation says where they would not.
#include "core/export/systemd_calendar.h"

#include <stdio.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/export/command_output.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::exporting {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int kSlots = 500;

// What systemd says the next `iterations` elapses of one OnCalendar value
// are, after `base`.
std::vector<absl::Time> SystemdSlots(const std::string& spec, absl::Time base, int iterations) {
  const std::string command =
      absl::StrCat("TZ=UTC systemd-analyze calendar --iterations=", iterations, " --base-time=@",
                   absl::ToUnixSeconds(base), " '", spec, "'");
  const CommandOutput run = RunCommand(command);
  EXPECT_EQ(run.exit_code, 0) << command << "\n" << run.text;
  const std::string& out = run.text;
  std::vector<absl::Time> slots;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    line = absl::StripLeadingAsciiWhitespace(line);
    if (!absl::ConsumePrefix(&line, "Next elapse: ") && !absl::StartsWith(line, "Iter. #")) {
      continue;
    }
    if (absl::StartsWith(line, "Iter. #")) line = line.substr(line.find(": ") + 2);
    absl::Time t;
    std::string error;
    EXPECT_TRUE(absl::ParseTime("%a %Y-%m-%d %H:%M:%S UTC", line, absl::UTCTimeZone(), &t, &error))
        << line << ": " << error;
    slots.push_back(t);
  }
  return slots;
}

struct Case {
  std::string cron;
  std::string zone;  // "" for UTC, written without a zone
};

class CalendarTest : public ::testing::TestWithParam<Case> {};

TEST_P(CalendarTest, SystemdFiresAtFleetsSlots) {
  const Case& c = GetParam();
  absl::StatusOr<schedule::Schedule> parsed = schedule::Schedule::Parse(c.cron);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  absl::TimeZone zone = absl::UTCTimeZone();
  if (!c.zone.empty()) ASSERT_TRUE(absl::LoadTimeZone(c.zone, &zone));
  const absl::Time base =
      absl::FromCivil(absl::CivilSecond(2026, 12, 6, 0, 0, 0), absl::UTCTimeZone());
  const OnCalendar calendar = ToOnCalendar(*parsed, c.zone, zone, base);
  ASSERT_THAT(calendar.differs, IsEmpty());
  std::vector<absl::Time> fleet;
  for (absl::Time t = base; static_cast<int>(fleet.size()) < kSlots;) {
    std::optional<absl::Time> next = parsed->NextAfter(t, zone);
    ASSERT_TRUE(next.has_value());
    fleet.push_back(*next);
    t = *next;
  }
  // A union of lines: each line's first 500 cover the union's first 500.
  std::set<absl::Time> merged;
  for (const std::string& line : calendar.lines) {
    for (absl::Time t : SystemdSlots(line, base, kSlots)) merged.insert(t);
  }
  std::vector<absl::Time> systemd(merged.begin(), merged.end());
  ASSERT_GE(systemd.size(), static_cast<size_t>(kSlots)) << calendar.lines[0];
  systemd.resize(kSlots);
  for (int i = 0; i < kSlots; ++i) {
    ASSERT_EQ(fleet[i], systemd[i])
        << "slot " << i << " of '" << c.cron << "' in " << (c.zone.empty() ? "UTC" : c.zone) << " ("
        << absl::StrJoin(calendar.lines, " | ") << "): fleet " << absl::FormatTime(fleet[i])
        << ", systemd " << absl::FormatTime(systemd[i]);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Schedules, CalendarTest,
    ::testing::Values(Case{"*/15 * * * *", ""}, Case{"0 9 * * 1-5", "America/New_York"},
                      Case{"30 6 1,15 * fri", "Asia/Tokyo"},  // either day field
                      Case{"0 0 * * 0", ""}, Case{"5 4 * 2-11/3 *", "Australia/Sydney"},
                      // An hour the clocks repeat (New York's 01:xx in November):
                      // the first one, both.
                      Case{"30 1 * * *", "America/New_York"},
                      Case{"15 1 * 11 sun", "America/New_York"},
                      Case{"@daily", "America/Los_Angeles"}, Case{"@hourly", "America/Phoenix"},
                      Case{"0 3 * * *", "Europe/Berlin"}));

TEST(CalendarTest, ASlotInAnHourTheClocksSkipIsSaidToDiffer) {
  absl::StatusOr<schedule::Schedule> parsed = schedule::Schedule::Parse("30 2 * * *");
  ASSERT_TRUE(parsed.ok());
  absl::TimeZone berlin;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Berlin", &berlin));
  const absl::Time base =
      absl::FromCivil(absl::CivilSecond(2026, 12, 6, 0, 0, 0), absl::UTCTimeZone());
  const OnCalendar calendar = ToOnCalendar(*parsed, "Europe/Berlin", berlin, base);
  EXPECT_THAT(calendar.lines, ::testing::ElementsAre("*-*-* 02:30:00 Europe/Berlin"));
  EXPECT_THAT(calendar.differs, HasSubstr("2027-03-28T02:30"));
  EXPECT_THAT(calendar.differs, HasSubstr("systemd skips it"));
  // systemd indeed has no run that day.
  const std::vector<absl::Time> systemd = SystemdSlots(calendar.lines[0], base, 120);
  std::optional<absl::Time> fleet_that_day = parsed->NextAfter(
      absl::FromCivil(absl::CivilSecond(2027, 3, 27, 23, 0, 0), absl::UTCTimeZone()), berlin);
  ASSERT_TRUE(fleet_that_day.has_value());
  EXPECT_EQ(std::count(systemd.begin(), systemd.end(), *fleet_that_day), 0);
}

}  // namespace
}  // namespace fleet::exporting
