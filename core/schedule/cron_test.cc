#include "core/schedule/cron.h"

#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::schedule {
namespace {

using ::testing::HasSubstr;

absl::TimeZone Zone(const std::string& name) {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone(name, &tz)) << name;
  return tz;
}

Schedule Parsed(const std::string& text) {
  absl::StatusOr<Schedule> s = Schedule::Parse(text);
  EXPECT_TRUE(s.ok()) << text << ": " << s.status();
  return s.ok() ? *s : Schedule();
}

std::string ErrorOf(const std::string& text) {
  absl::StatusOr<Schedule> s = Schedule::Parse(text);
  return s.ok() ? "(parsed)" : std::string(s.status().message());
}

// The next slot after civil time `from` in zone, as civil time there.
std::string Next(const std::string& text, absl::CivilSecond from, const absl::TimeZone& zone) {
  std::optional<absl::Time> t = Parsed(text).NextAfter(absl::FromCivil(from, zone), zone);
  if (!t.has_value()) return "never";
  return absl::FormatTime("%Y-%m-%d %H:%M %Z", *t, zone);
}

TEST(CronParseTest, AcceptsTheForms) {
  for (const char* ok : {"* * * * *", "*/5 * * * *", "0,30 9-17 * * mon-fri", "15 2 1 jan,JUL *",
                         "0 0 * * 7", "5/10 * * * *", "0 12 1-7 * 1", "  0 0 * * *  ", "@hourly",
                         "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually",
                         "@reboot", "@every 90s", "@every 1h30m", "@DAILY"}) {
    EXPECT_TRUE(Schedule::Parse(ok).ok()) << ok << ": " << Schedule::Parse(ok).status();
  }
  EXPECT_EQ(Parsed("@every 90s").kind(), Schedule::Kind::kEvery);
  EXPECT_EQ(Parsed("@every 90s").every(), absl::Seconds(90));
  EXPECT_EQ(Parsed("@reboot").kind(), Schedule::Kind::kReboot);
}

TEST(CronParseTest, ErrorsNameTheColumnAndWhy) {
  EXPECT_EQ(ErrorOf("61 * * * *"), "column 1: 61 is out of range for the minute (0-59)");
  EXPECT_EQ(ErrorOf("0 24 * * *"), "column 3: 24 is out of range for the hour (0-23)");
  EXPECT_EQ(ErrorOf("0 0 0 * *"), "column 5: 0 is out of range for the day of month (1-31)");
  EXPECT_EQ(ErrorOf("0 0 * foo *"), "column 7: 'foo' is not a valid month (a number or a name)");
  EXPECT_EQ(ErrorOf("0 0 * * 1-9"), "column 11: 9 is out of range for the day of week (0-7)");
  EXPECT_EQ(ErrorOf("0 17-9 * * *"), "column 3: the range 17-9 runs backwards");
  EXPECT_EQ(ErrorOf("*/0 * * * *"), "column 3: '0' is not a valid step (1-59)");
  EXPECT_EQ(ErrorOf("1,,2 * * * *"), "column 3: empty item in the minute");
  EXPECT_THAT(ErrorOf("* * * *"), HasSubstr("expected 5 fields"));
  EXPECT_THAT(ErrorOf("* * * * * *"), HasSubstr("column 11: expected 5 fields"));
  EXPECT_THAT(ErrorOf("@fortnightly"), HasSubstr("column 1: unknown '@fortnightly'"));
  EXPECT_THAT(ErrorOf("@every"), HasSubstr("@every needs a period"));
  EXPECT_THAT(ErrorOf("@every soon"), HasSubstr("column 8: 'soon' is not a period"));
  EXPECT_THAT(ErrorOf("@every 100ms"), HasSubstr("not a period of 1s or more"));
  EXPECT_THAT(ErrorOf("@daily 5"), HasSubstr("column 8: nothing may follow @daily"));
  EXPECT_EQ(ErrorOf(""), "the schedule is empty");
}

TEST(CronNextTest, FieldsListsRangesStepsAndNames) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  EXPECT_EQ(Next("*/15 * * * *", absl::CivilSecond(2026, 5, 4, 10, 7, 30), utc),
            "2026-05-04 10:15 UTC");
  EXPECT_EQ(Next("*/15 * * * *", absl::CivilSecond(2026, 5, 4, 10, 15, 0), utc),
            "2026-05-04 10:30 UTC");  // Strictly after.
  EXPECT_EQ(Next("0 9-17/4 * * *", absl::CivilSecond(2026, 5, 4, 13, 0, 0), utc),
            "2026-05-04 17:00 UTC");
  EXPECT_EQ(Next("0 9-17/4 * * *", absl::CivilSecond(2026, 5, 4, 17, 0, 0), utc),
            "2026-05-05 09:00 UTC");
  EXPECT_EQ(Next("30 8 * * mon-fri", absl::CivilSecond(2026, 5, 8, 9, 0, 0), utc),
            "2026-05-11 08:30 UTC");  // Fri -> Mon.
  EXPECT_EQ(Next("0 0 1 jan *", absl::CivilSecond(2026, 5, 4, 0, 0, 0), utc),
            "2027-01-01 00:00 UTC");
  EXPECT_EQ(Next("0 0 * * 7", absl::CivilSecond(2026, 5, 4, 0, 0, 0), utc),
            "2026-05-10 00:00 UTC");  // 7 = Sunday.
  EXPECT_EQ(Next("0 0 31 * *", absl::CivilSecond(2026, 4, 1, 0, 0, 0), utc),
            "2026-05-31 00:00 UTC");  // April has 30.
  EXPECT_EQ(Next("0 0 29 2 *", absl::CivilSecond(2026, 3, 1, 0, 0, 0), utc),
            "2028-02-29 00:00 UTC");
  EXPECT_EQ(Next("0 0 30 2 *", absl::CivilSecond(2026, 3, 1, 0, 0, 0), utc), "never");
  EXPECT_EQ(Next("@hourly", absl::CivilSecond(2026, 5, 4, 10, 59, 59), utc),
            "2026-05-04 11:00 UTC");
}

TEST(CronNextTest, BothDayFieldsRestrictedMatchEither) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  // The 13th, or any Friday (2026-05-08 is a Friday).
  EXPECT_EQ(Next("0 0 13 * fri", absl::CivilSecond(2026, 5, 4, 0, 0, 0), utc),
            "2026-05-08 00:00 UTC");
  EXPECT_EQ(Next("0 0 13 * fri", absl::CivilSecond(2026, 5, 9, 0, 0, 0), utc),
            "2026-05-13 00:00 UTC");
  // Only one restricted: that one alone.
  EXPECT_EQ(Next("0 0 13 * *", absl::CivilSecond(2026, 5, 4, 0, 0, 0), utc),
            "2026-05-13 00:00 UTC");
  EXPECT_EQ(Next("0 0 * * fri", absl::CivilSecond(2026, 5, 9, 0, 0, 0), utc),
            "2026-05-15 00:00 UTC");
}

TEST(CronNextTest, ComputedInTheEnginesTimeZone) {
  const absl::TimeZone tokyo = Zone("Asia/Tokyo");
  std::optional<absl::Time> t =
      Parsed("0 9 * * *")
          .NextAfter(absl::FromCivil(absl::CivilSecond(2026, 5, 4, 12, 0, 0), absl::UTCTimeZone()),
                     tokyo);
  ASSERT_TRUE(t.has_value());
  // 09:00 in Tokyo is 00:00 UTC.
  EXPECT_EQ(absl::FormatTime("%Y-%m-%d %H:%M", *t, absl::UTCTimeZone()), "2026-05-05 00:00");
}

TEST(CronNextTest, SpringForwardRunsASkippedSlotOnceAfterTheJump) {
  // New York, 2026-03-08: 02:00 EST becomes 03:00 EDT.
  const absl::TimeZone ny = Zone("America/New_York");
  EXPECT_EQ(Next("30 2 * * *", absl::CivilSecond(2026, 3, 7, 12, 0, 0), ny),
            "2026-03-08 03:00 EDT");
  EXPECT_EQ(Next("30 2 * * *", absl::CivilSecond(2026, 3, 8, 0, 0, 0), ny), "2026-03-08 03:00 EDT");
  EXPECT_EQ(Next("30 2 * * *", absl::CivilSecond(2026, 3, 8, 3, 0, 0), ny), "2026-03-09 02:30 EDT");
  // Every 15 minutes: the four slots of the skipped hour run once, at 03:00.
  Schedule quarter = Parsed("*/15 * * * *");
  absl::Time t = absl::FromCivil(absl::CivilSecond(2026, 3, 8, 1, 40, 0), ny);
  std::vector<std::string> seen;
  for (int i = 0; i < 4; ++i) {
    t = *quarter.NextAfter(t, ny);
    seen.push_back(absl::FormatTime("%H:%M %Z", t, ny));
  }
  EXPECT_THAT(seen, ::testing::ElementsAre("01:45 EST", "03:00 EDT", "03:15 EDT", "03:30 EDT"));
}

TEST(CronNextTest, FallBackRunsARepeatedSlotOnce) {
  // New York, 2026-11-01: 02:00 EDT becomes 01:00 EST; 01:00-01:59 happens twice.
  const absl::TimeZone ny = Zone("America/New_York");
  Schedule daily = Parsed("30 1 * * *");
  absl::Time first =
      *daily.NextAfter(absl::FromCivil(absl::CivilSecond(2026, 11, 1, 0, 0, 0), ny), ny);
  EXPECT_EQ(absl::FormatTime("%Y-%m-%d %H:%M %Z", first, ny), "2026-11-01 01:30 EDT");
  absl::Time second = *daily.NextAfter(first, ny);
  EXPECT_EQ(absl::FormatTime("%Y-%m-%d %H:%M %Z", second, ny), "2026-11-02 01:30 EST");
  // Asked from inside the repeated hour's second pass: no second run today.
  absl::Time in_second_pass = first + absl::Hours(1);  // 01:30 EST
  EXPECT_EQ(absl::FormatTime("%Y-%m-%d %H:%M %Z", *daily.NextAfter(in_second_pass, ny), ny),
            "2026-11-02 01:30 EST");
}

TEST(CronGapTest, TheLongestGapBetweenSlots) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  const absl::Time from = absl::FromCivil(absl::CivilSecond(2026, 5, 4, 0, 0, 0), utc);
  EXPECT_EQ(Parsed("*/5 * * * *").LongestGap(from, utc), absl::Minutes(5));
  EXPECT_EQ(Parsed("@daily").LongestGap(from, utc), absl::Hours(24));
  EXPECT_EQ(Parsed("0 9 * * mon-fri").LongestGap(from, utc), absl::Hours(72));  // Fri -> Mon.
  EXPECT_EQ(Parsed("@every 90s").LongestGap(from, utc), absl::Seconds(90));
  EXPECT_EQ(Parsed("@reboot").LongestGap(from, utc), absl::InfiniteDuration());
}

}  // namespace
}  // namespace fleet::schedule
