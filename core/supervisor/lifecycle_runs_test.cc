// The lifecycle of cycle engines (run, idle, run again) and of scheduled
// ones (the scheduler starts each run; failures retry, never FATAL).
#include "core/supervisor/lifecycle.h"
#include "core/supervisor/lifecycle_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::supervisor {
namespace {

using ::testing::HasSubstr;
namespace v1 = ::fleet::config::v1;

TEST(CycleTest, ASuccessfulRunIdlesUntilTheNextWithoutCountingAFailure) {
  LifecyclePolicy p = Policy();
  p.cycle_interval = absl::Seconds(10);
  Lifecycle life(p, [] { return 0.5; });
  life.Start(T(0));
  life.Spawned(T(0));
  EXPECT_EQ(life.Exited(T(0.2), Code(0)), Action::kNone);  // Shorter than min_uptime: fine.
  EXPECT_EQ(life.state(), State::kIdle);
  EXPECT_EQ(life.deadline(), T(10.2));
  EXPECT_THAT(life.reason(), HasSubstr("cycle done in 200ms; next in 10s"));
  EXPECT_EQ(life.restarts(), 0u);
  EXPECT_EQ(life.Tick(T(10.2)), Action::kSpawn);
  life.Spawned(T(10.2));
  // A failed run backs off like a crash.
  life.Exited(T(11), Code(3));
  EXPECT_EQ(life.state(), State::kBackoff);
  EXPECT_EQ(life.deadline(), T(11.5));
  // Stopping an idle instance cancels the next run.
  life.Tick(T(11.5));
  life.Spawned(T(11.5));
  life.Exited(T(12), Code(0));
  EXPECT_EQ(life.Stop(T(13), "operator"), Action::kNone);
  EXPECT_EQ(life.state(), State::kStopped);
}

TEST(CycleTest, ARunPastItsTimeoutIsStoppedAndCountsAsAFailure) {
  LifecyclePolicy p = Policy();
  p.cycle_interval = absl::Seconds(10);
  p.run_timeout = absl::Seconds(5);
  Lifecycle life(p, [] { return 0.5; });
  life.Start(T(0));
  life.Spawned(T(0));
  EXPECT_EQ(life.deadline(), T(1));  // min_uptime comes first.
  life.Tick(T(1));
  EXPECT_EQ(life.state(), State::kRunning);
  EXPECT_EQ(life.deadline(), T(5));
  EXPECT_EQ(life.Tick(T(5)), Action::kSendStopSignal);
  EXPECT_EQ(life.state(), State::kStopping);
  EXPECT_THAT(life.reason(), HasSubstr("run timed out after 5s"));
  life.Exited(T(5.1), Killed(15));
  EXPECT_EQ(life.state(), State::kBackoff);
  EXPECT_THAT(life.last_restart_reason(), HasSubstr("run timed out after 5s"));
  // A timeout shorter than min_uptime still applies.
  p.run_timeout = absl::Milliseconds(300);
  Lifecycle quick(p, [] { return 0.5; });
  quick.Start(T(0));
  quick.Spawned(T(0));
  EXPECT_EQ(quick.deadline(), T(0.3));
  EXPECT_EQ(quick.Tick(T(0.3)), Action::kSendStopSignal);
}

TEST(ScheduledTest, RunsEndIdleAndOnlyTheSchedulerStartsTheNext) {
  LifecyclePolicy p = Policy();
  p.scheduled = true;
  p.restart = v1::RESTART_POLICY_NEVER;
  Lifecycle life(p, [] { return 0.5; });
  life.Idle("scheduled");
  EXPECT_EQ(life.state(), State::kIdle);
  EXPECT_FALSE(life.deadline().has_value());
  EXPECT_EQ(life.Start(T(0)), Action::kSpawn);
  life.Spawned(T(0));
  EXPECT_EQ(life.Exited(T(0.4), Code(0)), Action::kNone);
  EXPECT_EQ(life.state(), State::kIdle);
  EXPECT_FALSE(life.deadline().has_value());
  EXPECT_THAT(life.reason(), HasSubstr("last run succeeded in 400ms"));
  life.Start(T(10));
  life.Spawned(T(10));
  life.Exited(T(11), Code(3));
  EXPECT_EQ(life.state(), State::kIdle);  // restart: never: no retry.
  EXPECT_THAT(life.reason(), HasSubstr("last run failed: exited with status 3"));
}

TEST(ScheduledTest, AFailedRunIsRetriedThenGivenUpUntilTheNextSlotNeverFatal) {
  LifecyclePolicy p = Policy();
  p.scheduled = true;
  p.restart = v1::RESTART_POLICY_ON_FAILURE;
  p.max_failures = 3;
  p.run_timeout = absl::Seconds(5);
  Lifecycle life(p, [] { return 0.5; });
  life.Start(T(0));
  life.Spawned(T(0));
  life.Exited(T(1), Code(1));
  EXPECT_EQ(life.state(), State::kBackoff);  // Retry 1 in 500ms.
  EXPECT_EQ(life.Tick(T(1.5)), Action::kSpawn);
  life.Spawned(T(1.5));
  // Retry 2 times out.
  life.Tick(T(2.5));
  EXPECT_EQ(life.Tick(T(6.5)), Action::kSendStopSignal);
  EXPECT_TRUE(life.timed_out());
  life.Exited(T(6.6), Killed(15));
  EXPECT_EQ(life.state(), State::kBackoff);
  life.Tick(T(7.6));
  life.Spawned(T(7.6));
  EXPECT_FALSE(life.timed_out());
  life.Exited(T(8), Code(1));
  EXPECT_EQ(life.state(), State::kIdle);
  EXPECT_THAT(life.reason(), HasSubstr("gave up after 3 tries; next run on schedule"));
  // The next slot starts with a clean history.
  life.Start(T(60));
  life.Spawned(T(60));
  life.Exited(T(61), Code(1));
  EXPECT_EQ(life.state(), State::kBackoff);
}

}  // namespace
}  // namespace fleet::supervisor
