#include "core/modules/log_hygiene/log_janitor.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::modules {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

absl::Time T(int hours) { return absl::FromUnixSeconds(0) + absl::Hours(hours); }

TEST(LogJanitorTest, TellsRotatedFromLive) {
  EXPECT_TRUE(IsRotatedLog("w.0.log.1"));
  EXPECT_TRUE(IsRotatedLog("a.b.3.log.12"));
  EXPECT_FALSE(IsRotatedLog("w.0.log"));
  EXPECT_FALSE(IsRotatedLog("w.0.log.tmp"));
  EXPECT_FALSE(IsRotatedLog("w.0.log.0"));
}

TEST(LogJanitorTest, AgeFirstThenOldestUntilUnderBudgetNeverLive) {
  std::vector<LogFile> files = {
      {"a.0.log", 500, T(0)},     // live, oldest of all: kept
      {"a.0.log.1", 100, T(90)},  // old but young enough for a's cap
      {"a.0.log.2", 100, T(10)},  // past a's 48h cap
      {"b.0.log.1", 300, T(50)},
      {"b.0.log.2", 300, T(20)},
  };
  auto cap = [](const std::string& name) {
    return name.rfind("a.", 0) == 0 ? absl::Hours(48) : absl::ZeroDuration();
  };
  TrimPlan plan = PlanLogTrim(files, T(100), cap, /*budget=*/1000);
  EXPECT_THAT(plan.too_old, ElementsAre("a.0.log.2"));
  // 500 + 100 + 300 + 300 = 1200 > 1000: the oldest rotated goes.
  EXPECT_THAT(plan.over_budget, ElementsAre("b.0.log.2"));
  plan = PlanLogTrim(files, T(100), cap, /*budget=*/0);
  EXPECT_THAT(plan.over_budget, IsEmpty());
  // A budget below the live files alone deletes every rotated one, no more.
  plan = PlanLogTrim(files, T(100), cap, /*budget=*/100);
  EXPECT_THAT(plan.over_budget, ElementsAre("b.0.log.2", "b.0.log.1", "a.0.log.1"));
}

}  // namespace
}  // namespace fleet::modules
