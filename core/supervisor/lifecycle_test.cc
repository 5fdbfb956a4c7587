#include "core/supervisor/lifecycle.h"

#include "core/supervisor/lifecycle_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::supervisor {
namespace {

using ::testing::HasSubstr;
namespace v1 = ::fleet::config::v1;


TEST(LifecycleTest, RestartsWaitTheEnginesBackoff) {
  LifecyclePolicy p = Policy();
  Lifecycle life(p, [] { return 0.5; });
  life.Spawned(T(0));
  ASSERT_EQ(life.Exited(T(0.1), Code(1)), Action::kNone);
  EXPECT_EQ(life.state(), State::kBackoff);
  EXPECT_EQ(*life.deadline(), T(0.6));  // initial
  EXPECT_EQ(life.Tick(T(0.6)), Action::kSpawn);
  life.Spawned(T(0.6));
  ASSERT_EQ(life.Exited(T(0.7), Code(1)), Action::kNone);
  EXPECT_EQ(*life.deadline(), T(1.7));  // initial * factor
}

// The process table keeps deadlines in order from what the observer says:
// a change it missed would leave an instance that is never ticked.
TEST(LifecycleTest, TheObserverHearsEveryChangeOfTheDeadline) {
  LifecyclePolicy p = Policy();
  p.run_timeout = absl::Seconds(30);
  Lifecycle life(p, [] { return 0.5; });
  std::optional<MonoTime> heard;
  int calls = 0;
  life.set_observer([&] {
    heard = life.deadline();
    ++calls;
  });
  auto check = [&](const char* step) {
    EXPECT_EQ(heard, life.deadline()) << step;
  };
  life.Start(T(0));
  check("start");
  life.Spawned(T(0));
  check("spawned");
  life.Tick(T(1));
  check("running");
  life.Exited(T(1.5), Code(1));
  check("exited");
  life.Tick(*life.deadline());
  check("backoff over");
  life.Spawned(T(3));
  check("spawned again");
  life.Stop(T(4), "operator");
  check("stopping");
  life.Tick(T(14));
  check("grace over");
  life.Exited(T(14.1), Killed(9));
  check("stopped");
  life.Wait("deps");
  check("waiting");
  life.Start(T(15));
  life.Spawned(T(15));
  life.Tick(T(16));
  life.Tick(T(45));  // Past run_timeout.
  check("timed out");
  life.Exited(T(45.5), Killed(15));
  check("timed-out run ended");
  life.Kill(T(46), "kill condition");
  check("killed");
  life.Reset("operator");
  check("reset");
  EXPECT_GT(calls, 8);
}

TEST(LifecycleTest, ADeferredSpawnIsDueAtOnceCountsAsNothingAndAStopCancelsIt) {
  Lifecycle life(Policy(), [] { return 0.5; });
  ASSERT_EQ(life.Start(T(0)), Action::kSpawn);
  life.Defer(T(0));
  EXPECT_EQ(life.state(), State::kBackoff);
  EXPECT_EQ(*life.deadline(), T(0));
  EXPECT_THAT(life.reason(), HasSubstr("queued to start"));
  EXPECT_EQ(life.Tick(T(0.01)), Action::kSpawn);
  life.Spawned(T(0.01));
  EXPECT_EQ(life.restarts(), 0u);
  life.Defer(T(0.02));  // A process exists: nothing to put off.
  EXPECT_EQ(life.state(), State::kStarting);
  // Put off, then stopped before the next pass: never spawned.
  Lifecycle other(Policy(), [] { return 0.5; });
  ASSERT_EQ(other.Start(T(0)), Action::kSpawn);
  other.Defer(T(0));
  EXPECT_EQ(other.Stop(T(0), "operator"), Action::kNone);
  EXPECT_EQ(other.state(), State::kStopped);
  EXPECT_FALSE(other.deadline().has_value());
}

TEST(LifecycleTest, StartsRunsAndRestartsAtOnceAfterAStableRun) {
  Lifecycle life(Policy(), [] { return 0.5; });
  EXPECT_EQ(life.Start(T(0)), Action::kSpawn);
  life.Spawned(T(0));
  EXPECT_EQ(life.state(), State::kStarting);
  EXPECT_EQ(life.Tick(T(0.5)), Action::kNone);
  EXPECT_EQ(life.state(), State::kStarting);
  life.Tick(T(1));
  EXPECT_EQ(life.state(), State::kRunning);

  // Up 4s, then SIGKILLed (an OOM kill, an operator's kill -9): at once.
  EXPECT_EQ(life.Exited(T(5), Killed(9)), Action::kSpawn);
  EXPECT_THAT(life.reason(), HasSubstr("killed by SIGKILL after 5s up (a stable run): restarted "
                                       "at once"));
  EXPECT_EQ(life.last_restart_reason(), "killed by SIGKILL");
  life.Spawned(T(5));
  // Then it dies before min_uptime: an unstable run backs off from initial.
  EXPECT_EQ(life.Exited(T(5.2), Code(1)), Action::kNone);
  EXPECT_EQ(life.state(), State::kBackoff);
  EXPECT_EQ(life.deadline(), T(5.7));
  EXPECT_THAT(life.reason(), HasSubstr("exited with status 1; restart in 500ms"));
  EXPECT_EQ(life.Tick(T(5.6)), Action::kNone);
  EXPECT_EQ(life.Tick(T(5.7)), Action::kSpawn);
  life.Spawned(T(5.7));
  life.Exited(T(6), Code(1));
  EXPECT_EQ(life.deadline(), T(7));  // Second unstable run in a row: 1s.
  EXPECT_EQ(life.restarts(), 3u);
}

TEST(LifecycleTest, KilledEveryFewSecondsItRestartsAtOnceEveryTimeAndNeverGoesFatal) {
  LifecyclePolicy p = Policy();
  p.max_failures = 3;
  Lifecycle life(p, [] { return 0.5; });
  life.Start(T(0));
  for (int i = 0; i < 50; ++i) {
    life.Spawned(T(i * 2));
    ASSERT_EQ(life.Exited(T(i * 2 + 1.5), Killed(9)), Action::kSpawn) << i;
  }
  EXPECT_EQ(life.restarts(), 50u);
}

TEST(LifecycleTest, BackoffGrowsOnlyOverConsecutiveUnstableRuns) {
  Lifecycle life(Policy(), [] { return 0.5; });
  life.Start(T(0));
  life.Spawned(T(0));
  life.Exited(T(0.5), Code(1));
  life.Tick(T(2));
  life.Spawned(T(2));
  life.Exited(T(2.5), Code(1));
  EXPECT_EQ(*life.deadline() - T(2.5), absl::Seconds(1));
  life.Tick(T(4));
  life.Spawned(T(4));
  EXPECT_EQ(life.Exited(T(10), Code(1)), Action::kSpawn);  // Stable: at once.
  life.Spawned(T(10));
  life.Exited(T(10.5), Code(1));  // The next unstable one starts over.
  EXPECT_EQ(*life.deadline() - T(10.5), absl::Milliseconds(500));
}

TEST(LifecycleTest, AZeroMinUptimeDoesNotMakeAnInstantDeathStable) {
  LifecyclePolicy p = Policy();
  p.min_uptime = absl::ZeroDuration();
  Lifecycle life(p, [] { return 0.5; });
  life.Start(T(0));
  life.Spawned(T(0));
  EXPECT_EQ(life.Exited(T(0.01), Code(1)), Action::kNone);
  EXPECT_EQ(life.state(), State::kBackoff);
  life.Tick(T(1));
  life.Spawned(T(1));
  EXPECT_EQ(life.Exited(T(1) + kStableRunFloor, Code(1)), Action::kSpawn);
}

TEST(LifecycleTest, ALongMinUptimeMakesEarlierDeathsUnstable) {
  LifecyclePolicy p = Policy();
  p.min_uptime = absl::Seconds(30);
  Lifecycle life(p, [] { return 0.5; });
  life.Start(T(0));
  life.Spawned(T(0));
  EXPECT_EQ(life.Exited(T(20), Killed(9)), Action::kNone);
  EXPECT_EQ(life.state(), State::kBackoff);
}

TEST(LifecycleTest, ZeroDelayRestartsAtOnce) {
  LifecyclePolicy p = Policy();
  p.backoff.initial = absl::ZeroDuration();
  Lifecycle life(p, [] { return 0.5; });
  life.Start(T(0));
  life.Spawned(T(0));
  EXPECT_EQ(life.Exited(T(0.2), Killed(9)), Action::kSpawn);  // Unstable, delay 0.
}

TEST(LifecycleTest, CrashLoopGoesFatalWithReasonAndStartClearsIt) {
  LifecyclePolicy p = Policy();
  p.max_failures = 3;
  p.failure_window = absl::Seconds(60);
  Lifecycle life(p, [] { return 0.5; });
  double t = 0;
  life.Start(T(t));
  for (int i = 0; i < 3; ++i) {
    life.Spawned(T(t));
    life.Exited(T(t + 0.1), Code(2));
    t += 5;
    if (life.state() == State::kBackoff) life.Tick(T(t));
  }
  EXPECT_EQ(life.state(), State::kFatal);
  EXPECT_EQ(life.reason(), "crash loop: 3 failures within 1m; last: exited with status 2");
  EXPECT_FALSE(life.deadline().has_value());
  EXPECT_EQ(life.Start(T(t)), Action::kSpawn);  // The operator's start clears history.
  life.Spawned(T(t));
  life.Exited(T(t + 0.1), Code(2));
  EXPECT_EQ(life.state(), State::kBackoff);
}

TEST(LifecycleTest, FailuresOutsideTheWindowDoNotCount) {
  LifecyclePolicy p = Policy();
  p.max_failures = 3;
  p.failure_window = absl::Seconds(10);
  Lifecycle life(p, [] { return 0.5; });
  life.Start(T(0));
  for (int i = 0; i < 10; ++i) {
    life.Spawned(T(i * 20));
    life.Exited(T(i * 20 + 0.5), Code(1));
    ASSERT_EQ(life.state(), State::kBackoff) << i;
  }
}

TEST(LifecycleTest, RestartPolicies) {
  LifecyclePolicy p = Policy();
  p.restart = v1::RESTART_POLICY_ON_FAILURE;
  Lifecycle on_failure(p, [] { return 0.5; });
  on_failure.Start(T(0));
  on_failure.Spawned(T(0));
  on_failure.Exited(T(1), Code(0));
  EXPECT_EQ(on_failure.state(), State::kExited);
  EXPECT_EQ(on_failure.reason(), "exited with status 0");
  p.restart = v1::RESTART_POLICY_NEVER;
  Lifecycle never(p, [] { return 0.5; });
  never.Start(T(0));
  never.Spawned(T(0));
  never.Exited(T(1), Killed(11));
  EXPECT_EQ(never.state(), State::kExited);
}

TEST(LifecycleTest, StopSignalsThenKillsAfterGrace) {
  Lifecycle life(Policy(), [] { return 0.5; });
  life.Start(T(0));
  life.Spawned(T(0));
  EXPECT_EQ(life.Stop(T(2), "operator"), Action::kSendStopSignal);
  EXPECT_EQ(life.state(), State::kStopping);
  EXPECT_EQ(life.Tick(T(11)), Action::kNone);
  EXPECT_EQ(life.Tick(T(12)), Action::kKill);
  EXPECT_EQ(life.Tick(T(13)), Action::kNone);  // SIGKILL is sent once.
  EXPECT_EQ(life.Exited(T(12.1), Killed(9)), Action::kNone);
  EXPECT_EQ(life.state(), State::kStopped);
  EXPECT_THAT(life.reason(), HasSubstr("stopped: operator"));
  EXPECT_EQ(life.restarts(), 0u);
}

TEST(LifecycleTest, RestartStopsThenSpawns) {
  Lifecycle life(Policy(), [] { return 0.5; });
  life.Start(T(0));
  life.Spawned(T(0));
  EXPECT_EQ(life.Restart(T(1), "operator", RestartCause::kOperator), Action::kSendStopSignal);
  EXPECT_EQ(life.Exited(T(1.1), Killed(15)), Action::kSpawn);
  EXPECT_EQ(life.restarts(), 1u);
  EXPECT_EQ(life.last_restart_reason(), "operator");
}

TEST(LifecycleTest, UnhealthyRestartCountsAsAFailure) {
  LifecyclePolicy p = Policy();
  p.max_failures = 2;
  Lifecycle life(p, [] { return 0.5; });
  life.Start(T(0));
  life.Spawned(T(0));
  EXPECT_EQ(life.FailAndRestart(T(5), "unhealthy: log stale 6s > 5s", RestartCause::kUnhealthy), Action::kSendStopSignal);
  EXPECT_EQ(life.Exited(T(5.1), Killed(15)), Action::kNone);
  EXPECT_EQ(life.state(), State::kBackoff);
  EXPECT_THAT(life.reason(), HasSubstr("unhealthy: log stale 6s > 5s; restart in 500ms"));
  EXPECT_EQ(life.last_restart_reason(), "unhealthy: log stale 6s > 5s");
  life.Tick(T(6));
  life.Spawned(T(6));
  life.FailAndRestart(T(11), "unhealthy: log stale 6s > 5s", RestartCause::kUnhealthy);
  life.Exited(T(11.1), Killed(15));
  EXPECT_EQ(life.state(), State::kFatal);  // The crash-loop limit applies.
}

// fleet_instance_restarts_total{reason}: each restart counted once, under
// what caused it.
TEST(LifecycleTest, RestartsAreCountedByCause) {
  LifecyclePolicy p = Policy();
  p.max_failures = 0;
  Lifecycle life(p, [] { return 0.5; });
  double t = 0;
  auto run_again = [&] {  // through the backoff, up again
    t += 100;
    if (life.state() == State::kBackoff) EXPECT_EQ(life.Tick(T(t)), Action::kSpawn);
    life.Spawned(T(t));
  };
  life.Start(T(0));
  life.Spawned(T(0));
  life.Exited(T(0.1), Code(1));
  run_again();
  life.Exited(T(t + 0.1), Killed(9));
  run_again();
  life.FailAndRestart(T(t + 0.1), "unhealthy: log stale", RestartCause::kUnhealthy);
  life.Exited(T(t + 0.2), Killed(15));
  run_again();
  life.Restart(T(t + 0.1), "restart requested", RestartCause::kOperator);
  EXPECT_EQ(life.Exited(T(t + 0.2), Killed(15)), Action::kSpawn);
  life.SpawnFailed(T(t + 0.3), "no such file");
  EXPECT_EQ(life.restarts(RestartCause::kExit), 1u);
  EXPECT_EQ(life.restarts(RestartCause::kSignal), 1u);
  EXPECT_EQ(life.restarts(RestartCause::kUnhealthy), 1u);
  EXPECT_EQ(life.restarts(RestartCause::kOperator), 1u);
  EXPECT_EQ(life.restarts(RestartCause::kSpawnFailed), 1u);
  EXPECT_EQ(life.restarts(RestartCause::kConfig), 0u);
  EXPECT_EQ(life.restarts(), 5u);
  EXPECT_STREQ(RestartCauseName(RestartCause::kSpawnFailed), "spawn_failed");
}

TEST(LifecycleTest, StopDuringBackoffCancelsTheRestart) {
  Lifecycle life(Policy(), [] { return 0.5; });
  life.Start(T(0));
  life.Spawned(T(0));
  life.Exited(T(1), Code(1));
  EXPECT_EQ(life.Stop(T(1.1), "operator"), Action::kNone);
  EXPECT_EQ(life.state(), State::kStopped);
  EXPECT_FALSE(life.deadline().has_value());
}

TEST(LifecycleTest, SpawnFailureBacksOff) {
  Lifecycle life(Policy(), [] { return 0.5; });
  life.Start(T(0));
  life.SpawnFailed(T(0), "spawn x: No such file or directory");
  EXPECT_EQ(life.state(), State::kBackoff);
  EXPECT_THAT(life.reason(), HasSubstr("No such file"));
}

TEST(LifecycleTest, KillStopsForGoodUntilStarted) {
  Lifecycle life(Policy(), [] { return 0.5; });
  life.Start(T(0));
  life.Spawned(T(0));
  EXPECT_EQ(life.Kill(T(1), "kill condition holds"), Action::kSendStopSignal);
  EXPECT_EQ(life.state(), State::kStopping);
  EXPECT_EQ(life.Exited(T(1.1), Killed(15)), Action::kNone);
  EXPECT_EQ(life.state(), State::kKilled);
  EXPECT_EQ(life.reason(), "kill condition holds (killed by SIGTERM)");
  EXPECT_EQ(life.Tick(T(100)), Action::kNone);
  EXPECT_EQ(life.Start(T(200)), Action::kSpawn);  // The operator's start.
  life.Spawned(T(200));
  EXPECT_EQ(life.state(), State::kStarting);
}

TEST(LifecycleTest, KillDuringBackoffIsImmediate) {
  Lifecycle life(Policy(), [] { return 0.5; });
  life.Start(T(0));
  life.Spawned(T(0));
  life.Exited(T(1), Code(1));
  EXPECT_EQ(life.Kill(T(1.1), "kill condition holds"), Action::kNone);
  EXPECT_EQ(life.state(), State::kKilled);
  EXPECT_FALSE(life.deadline().has_value());
}

TEST(LifecycleTest, SpawnFailureNeverRetriesFasterThanTheFloor) {
  LifecyclePolicy p = Policy();
  p.backoff.initial = absl::ZeroDuration();
  Lifecycle life(p, [] { return 0.5; });
  life.Start(T(0));
  life.SpawnFailed(T(0), "program x not found");
  EXPECT_EQ(life.deadline(), T(0) + kSpawnRetryFloor);
  EXPECT_THAT(life.reason(), HasSubstr("retry in 1s"));
}

TEST(LifecycleTest, NeverGivingUpKeepsNoHistory) {
  LifecyclePolicy p = Policy();
  p.max_failures = 0;
  p.backoff.initial = absl::ZeroDuration();
  Lifecycle life(p, [] { return 0.5; });
  life.Start(T(0));
  for (int i = 0; i < 100000; ++i) {
    life.Spawned(T(i));
    ASSERT_EQ(life.Exited(T(i + 0.5), Code(1)), Action::kSpawn);
  }
  EXPECT_EQ(life.state(), State::kBackoff);
  EXPECT_EQ(life.restarts(), 100000u);
}

}  // namespace
}  // namespace fleet::supervisor
