#include "core/schedule/planner.h"

#include "absl/time/civil_time.h"
#include "gtest/gtest.h"

namespace fleet::schedule {
namespace {

const absl::TimeZone kUtc = absl::UTCTimeZone();

absl::Time At(int h, int m, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(2026, 5, 4, h, m, s), kUtc);
}

Schedule Parsed(const std::string& text) { return *Schedule::Parse(text); }

TEST(PlannerTest, NeverRanWaitsForTheNextSlotAndOwesNothing) {
  SlotPlan p = PlanSlots(Parsed("0 * * * *"), kUtc, std::nullopt, At(10, 20), Missed::kRunOnce);
  EXPECT_EQ(p.next_slot, At(11, 0));
  EXPECT_EQ(p.missed, 0);
  EXPECT_FALSE(p.run_now);
  SlotPlan every =
      PlanSlots(Parsed("@every 90s"), kUtc, std::nullopt, At(10, 20), Missed::kRunOnce);
  EXPECT_EQ(every.next_slot, At(10, 21, 30));
}

TEST(PlannerTest, OnTimeTheNextSlotFollowsTheLast) {
  SlotPlan p = PlanSlots(Parsed("0 * * * *"), kUtc, At(10, 0), At(10, 0, 1), Missed::kRunOnce);
  EXPECT_EQ(p.next_slot, At(11, 0));
  EXPECT_EQ(p.missed, 0);
}

TEST(PlannerTest, SlotsThatPassedRunOnceNotOncePerSlot) {
  // Down from 10:00 to 13:20: 11:00, 12:00 and 13:00 passed.
  SlotPlan p = PlanSlots(Parsed("0 * * * *"), kUtc, At(10, 0), At(13, 20), Missed::kRunOnce);
  EXPECT_EQ(p.missed, 3);
  EXPECT_TRUE(p.run_now);
  EXPECT_EQ(p.missed_slot, At(13, 0));
  EXPECT_EQ(p.next_slot, At(14, 0));
  // After that catch-up run (recorded for 13:00), nothing more is owed.
  SlotPlan after =
      PlanSlots(Parsed("0 * * * *"), kUtc, p.missed_slot, At(13, 21), Missed::kRunOnce);
  EXPECT_EQ(after.missed, 0);
  EXPECT_EQ(after.next_slot, At(14, 0));
}

TEST(PlannerTest, SkippedSlotsAreCountedButNotRun) {
  SlotPlan p = PlanSlots(Parsed("0 * * * *"), kUtc, At(10, 0), At(13, 20), Missed::kSkip);
  EXPECT_EQ(p.missed, 3);
  EXPECT_FALSE(p.run_now);
  EXPECT_EQ(p.next_slot, At(14, 0));
}

TEST(PlannerTest, AClockThatWentBackNeverRepeatsASlot) {
  // Ran for 10:00; the clock is set back to 09:30: the next is 11:00.
  SlotPlan p = PlanSlots(Parsed("0 * * * *"), kUtc, At(10, 0), At(9, 30), Missed::kRunOnce);
  EXPECT_EQ(p.next_slot, At(11, 0));
  EXPECT_EQ(p.missed, 0);
}

TEST(PlannerTest, EveryKeepsItsPhaseAndCatchesUpOnce) {
  Schedule every = Parsed("@every 10m");
  SlotPlan on_time = PlanSlots(every, kUtc, At(10, 0), At(10, 5), Missed::kRunOnce);
  EXPECT_EQ(on_time.next_slot, At(10, 10));
  SlotPlan late = PlanSlots(every, kUtc, At(10, 0), At(10, 35), Missed::kRunOnce);
  EXPECT_EQ(late.missed, 3);  // 10:10, 10:20, 10:30
  EXPECT_EQ(late.missed_slot, At(10, 30));
  EXPECT_EQ(late.next_slot, At(10, 40));
}

TEST(PlannerTest, AWeekDownOnAMinutelyJobIsOneCatchUpRun) {
  const absl::Time now = At(10, 0) + absl::Hours(24 * 7);
  SlotPlan p = PlanSlots(Parsed("* * * * *"), kUtc, At(10, 0), now, Missed::kRunOnce);
  EXPECT_EQ(p.missed, 1000);  // Capped.
  EXPECT_TRUE(p.run_now);
  EXPECT_EQ(p.missed_slot, now);
  EXPECT_EQ(p.next_slot, now + absl::Minutes(1));
}

TEST(PlannerTest, RebootHasNoSlots) {
  SlotPlan p = PlanSlots(Parsed("@reboot"), kUtc, std::nullopt, At(10, 0), Missed::kRunOnce);
  EXPECT_FALSE(p.next_slot.has_value());
}

}  // namespace
}  // namespace fleet::schedule
