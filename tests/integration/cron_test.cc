// Cron engines through the real fleetd: runs at their pace, the timeout
// stops the whole group, overlap policies, slots missed while fleetd was
// down, manual runs, @reboot, and "overdue" health. Every run's verdict is
// read back with `fleetctl runs -o json`.
#include <signal.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/integration/fleet_harness.h"

namespace fleet::testing {
namespace {

using ::testing::HasSubstr;
namespace ctl = ::fleet::control::v1;

ctl::ListRunsResponse Runs(const FleetHarness& h, const std::string& target) {
  ctl::ListRunsResponse runs;
  CommandResult r = h.Fleetctl({"runs", target, "-n", "200", "-o", "protojson"});
  if (r.exit_code == 0) (void)google::protobuf::util::JsonStringToMessage(r.out, &runs);
  return runs;
}

int Count(const FleetHarness& h, const std::string& target, const std::string& verdict,
          const std::string& trigger = "") {
  int n = 0;
  const ctl::ListRunsResponse runs = Runs(h, target);  // Outlives the loop.
  for (const ctl::RunRecord& r : runs.runs()) {
    n += r.verdict() == verdict && (trigger.empty() || r.trigger() == trigger);
  }
  return n;
}

std::string Events(const FleetHarness& h) { return h.Fleetctl({"events", "-n", "500"}).out; }

std::string Cron(const std::string& name, const std::string& schedule, const std::string& shell,
                 const std::string& extra = "") {
  return absl::StrCat("  - name: ", name, "\n    type: cron\n    schedule: '", schedule,
                      "'\n    shell: '", shell, "'\n", extra);
}

TEST(CronTest, RunsKeepTheirPaceAndEachIsRecorded) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(Cron("tick", "@every 1s", "echo out; sleep 0.2")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return Count(h, "tick", "succeeded") >= 4; },
                                      absl::Seconds(15)))
      << Events(h);
  ctl::ListRunsResponse runs = Runs(h, "tick");
  ASSERT_GE(runs.runs_size(), 4);
  // Newest first; each a scheduled run with its output counted.
  for (int i = 0; i + 1 < runs.runs_size() && i < 3; ++i) {
    const ctl::RunRecord& newer = runs.runs(i);
    const ctl::RunRecord& older = runs.runs(i + 1);
    if (newer.verdict() != "succeeded" || older.verdict() != "succeeded") continue;
    EXPECT_GT(newer.seq(), older.seq());
    EXPECT_EQ(newer.trigger(), "schedule");
    EXPECT_EQ(newer.output_bytes(), 4u);
    EXPECT_GE(newer.duration_ms(), 200);
    const int64_t gap = newer.started_unix_ms() - older.started_unix_ms();
    EXPECT_GE(gap, 700) << "runs 1s apart";
    EXPECT_LE(gap, 2000) << "runs 1s apart";
  }
  ctl::InstanceStatus tick = h.Instance("tick/0");
  EXPECT_TRUE(tick.has_last_run());
  EXPECT_GT(tick.next_run_unix_ms(), absl::ToUnixMillis(absl::Now()) - 1000);
  EXPECT_THAT(h.Fleetctl({"status"}).out, HasSubstr("SCHEDULED"));
  EXPECT_THAT(h.Fleetctl({"runs", "tick"}).out, HasSubstr("succeeded"));
  EXPECT_EQ(h.Fleetctl({"runs", "nosuch"}).exit_code, 4);
}

TEST(CronTest, JitterDelaysEachSlotByUpToItsAmount) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(Cron("jittery", "@every 1s", "true", "    jitter: 600ms\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return Count(h, "jittery", "succeeded") >= 6; },
                                      absl::Seconds(20)));
  int64_t latest = 0;
  const ctl::ListRunsResponse runs = Runs(h, "jittery");
  for (const ctl::RunRecord& r : runs.runs()) {
    const int64_t late = r.started_unix_ms() - r.slot_unix_ms();
    EXPECT_GE(late, 0) << r.DebugString();
    EXPECT_LE(late, 600 + 400) << r.DebugString();  // The jitter, plus a loaded machine.
    latest = std::max(latest, late);
  }
  EXPECT_GT(latest, 60) << "six slots, none delayed: the jitter was not applied";
}

TEST(CronTest, ARunPastItsTimeoutIsStoppedWithItsWholeGroup) {
  FleetHarness h;
  h.WriteFile("fleet.yaml",
              FleetYaml(Cron("slow", "@hourly", "sleep 100 & echo $! > grandchild.pid; wait",
                             "    timeout: 1s\n    restart: never\n    stop: {grace: 500ms}\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  CommandResult run = h.Fleetctl({"run", "slow"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("slow/0: started"));
  pid_t grandchild = 0;
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return (grandchild = h.ReadPid("grandchild.pid")) > 0; }, absl::Seconds(10)));
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return Count(h, "slow", "timed_out", "manual") == 1; },
                                      absl::Seconds(10)))
      << Events(h);
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return !FleetHarness::ProcessAlive(grandchild); },
                                      absl::Seconds(5)));
  EXPECT_THAT(Events(h), HasSubstr("run_timed_out"));
  EXPECT_THAT(Runs(h, "slow").runs(0).reason(), HasSubstr("stopped at its timeout of 1s"));
  EXPECT_EQ(h.Instance("slow/0").state(), ctl::INSTANCE_STATE_IDLE);
}

TEST(CronTest, OverlapSkipsQueuesOrReplaces) {
  FleetHarness h;
  const std::string extra = "    restart: never\n    stop: {grace: 500ms}\n";
  h.WriteFile(
      "fleet.yaml",
      FleetYaml(Cron("skip", "@every 1s", "sleep 2.5", extra) +
                Cron("queue", "@every 1s", "sleep 2.5", extra + "    overlap: queue\n") +
                Cron("replace", "@every 1s", "sleep 2.5", extra + "    overlap: replace\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return Count(h, "skip", "skipped") >= 2 && Count(h, "queue", "succeeded", "queued") >= 1 &&
               Count(h, "replace", "replaced") >= 2;
      },
      absl::Seconds(20)))
      << Runs(h, "skip").DebugString() << Runs(h, "queue").DebugString()
      << Runs(h, "replace").DebugString();
  // skip: no run of its own ever overlapped another.
  ctl::ListRunsResponse skip = Runs(h, "skip");
  int64_t last_end = 0;
  for (int i = skip.runs_size() - 1; i >= 0; --i) {
    const ctl::RunRecord& r = skip.runs(i);
    if (r.verdict() != "succeeded") continue;
    EXPECT_GE(r.started_unix_ms(), last_end);
    last_end = r.started_unix_ms() + r.duration_ms();
  }
  EXPECT_THAT(Runs(h, "skip").DebugString(), HasSubstr("is still running (overlap: skip)"));
  EXPECT_EQ(Count(h, "replace", "succeeded"), 0);  // Each is replaced before it ends.
}

TEST(CronTest, SlotsMissedWhileFleetdWasDownRunOnceOrAreSkipped) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(Cron("once", "@every 1s", "true") +
                                      Cron("skip", "@every 1s", "true", "    missed: skip\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return Count(h, "once", "succeeded") >= 2 && Count(h, "skip", "succeeded") >= 2; },
      absl::Seconds(15)));
  ASSERT_EQ(kill(h.fleetd_pid(), SIGKILL), 0);
  ASSERT_EQ(h.WaitFleetdExit(absl::Seconds(10)), 128 + SIGKILL);
  absl::SleepFor(absl::Milliseconds(3500));  // Three slots pass.
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return Count(h, "once", "succeeded", "missed") >= 1; },
                                      absl::Seconds(10)))
      << Runs(h, "once").DebugString();
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return Count(h, "skip", "missed", "missed") == 1; },
                                      absl::Seconds(5)))
      << Runs(h, "skip").DebugString();
  absl::SleepFor(absl::Seconds(2));
  EXPECT_EQ(Count(h, "once", "succeeded", "missed"), 1);  // Once, not once per slot.
  EXPECT_EQ(Count(h, "skip", "succeeded", "missed"), 0);
  EXPECT_GE(Count(h, "once", "succeeded", "schedule"), 3);  // And on schedule after.
  EXPECT_THAT(Events(h), HasSubstr("slot(s) passed unrun"));
}

TEST(CronTest, ManualRunsRebootRunsAndWhatIsRefused) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(Cron("hourly", "@hourly", "echo manual") +
                                      Cron("boot", "@reboot", "echo booted") +
                                      "  - name: d\n    shell: 'exec sleep 1000'\n"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return Count(h, "boot", "succeeded", "reboot") == 1; },
                                      absl::Seconds(10)));
  CommandResult run = h.Fleetctl({"run", "hourly"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return Count(h, "hourly", "succeeded", "manual") == 1; }, absl::Seconds(10)));
  CommandResult daemon = h.Fleetctl({"run", "d"});
  EXPECT_EQ(daemon.exit_code, 1);
  EXPECT_THAT(daemon.err, HasSubstr("d is a daemon"));
  EXPECT_EQ(h.Fleetctl({"run"}).exit_code, 2);
  // A run that cannot even start is a failed run, with why.
  h.WriteFile("fleet.yaml", FleetYaml(Cron("hourly", "@hourly", "echo manual") +
                                      Cron("boot", "@reboot", "echo booted") +
                                      "  - name: d\n    shell: 'exec sleep 1000'\n" +
                                      "  - name: broken\n    type: cron\n    schedule: '@hourly'\n"
                                      "    command: [/no/such/program]\n    restart: never\n"));
  ASSERT_EQ(h.Fleetctl({"reload"}).exit_code, 0);
  EXPECT_EQ(h.Fleetctl({"run", "broken"}).exit_code, 0);
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return Count(h, "broken", "failed", "manual") == 1; },
                                      absl::Seconds(10)));
  EXPECT_THAT(h.Fleetctl({"runs", "broken"}).out, HasSubstr("could not start"));
  EXPECT_EQ(h.Fleetctl({"run", "nosuch"}).exit_code, 4);
  // @reboot: once per boot, not once per fleetd start.
  ASSERT_EQ(h.Fleetctl({"shutdown"}).exit_code, 0);
  ASSERT_EQ(h.WaitFleetdExit(absl::Seconds(20)), 0);
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(Count(h, "boot", "succeeded", "reboot"), 1);
  EXPECT_EQ(Count(h, "hourly", "succeeded", "manual"), 1);  // History survived.
}

// An engine removed by a reload while its run is in progress: the run is
// stopped, and still recorded (its event, its history line).
TEST(CronTest, ARunOfARemovedEngineIsStoppedAndStillRecorded) {
  FleetHarness h;
  const std::string keep = Cron("keep", "@hourly", "true");
  h.WriteFile("fleet.yaml", FleetYaml(keep + Cron("long", "@hourly", "sleep 60")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_EQ(h.Fleetctl({"run", "long"}).exit_code, 0);
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return h.Instance("long/0").pid() > 0; },
                                      absl::Seconds(10)));
  h.WriteFile("fleet.yaml", FleetYaml(keep));
  ASSERT_EQ(h.Fleetctl({"reload"}).exit_code, 0);
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return Events(h).find("long/0  run_stopped") != std::string::npos; },
      absl::Seconds(15)))
      << Events(h);
}

TEST(CronTest, AJobWithoutASuccessInItsExpectedPeriodIsOverdue) {
  FleetHarness h;
  h.WriteFile("fleet.yaml",
              FleetYaml(Cron("broken", "@every 1s", "exit 1",
                             "    restart: never\n    expected_period: 2s\n") +
                        Cron("fine", "@every 1s", "true", "    expected_period: 2s\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("broken/0").health().find("overdue") != std::string::npos; },
      absl::Seconds(10)))
      << Events(h);
  EXPECT_THAT(h.Instance("broken/0").health(), HasSubstr("expected at least every 2s"));
  EXPECT_THAT(Events(h), HasSubstr("run_overdue"));
  EXPECT_GE(Count(h, "broken", "failed"), 1);
  EXPECT_EQ(h.Instance("fine/0").health().find("overdue"), std::string::npos);
  // `fleetctl health` says which needs attention (exit 3), and not the other.
  CommandResult health = h.Fleetctl({"health"});
  EXPECT_EQ(health.exit_code, 3);
  EXPECT_THAT(health.out, ::testing::ContainsRegex("broken/0 +NO"));
  EXPECT_THAT(health.out, ::testing::ContainsRegex("fine/0 +yes"));
}

}  // namespace
}  // namespace fleet::testing
