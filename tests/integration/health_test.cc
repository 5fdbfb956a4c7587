// Health is progress: real processes whose logs go stale, that are frozen,
// or that are busy but silent; and plugins that cannot be loaded.
#include <signal.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/fleet_harness.h"

// CommandResult lives in fleet::testing.

namespace fleet::testing {
namespace {

using ::testing::HasSubstr;
namespace ctl = ::fleet::control::v1;

// Waits until id has a new pid, and returns how long that took.
absl::Duration TimeToRestart(const FleetHarness& h, const std::string& id, int32_t old_pid,
                             absl::Duration limit) {
  absl::Time start = absl::Now();
  FleetHarness::WaitUntil(
      [&] {
        ctl::InstanceStatus i = h.Instance(id);
        return i.pid() > 0 && i.pid() != old_pid;
      },
      limit);
  return absl::Now() - start;
}

TEST(HealthTest, SilentInstanceIsRestartedWithinTheWindowPlusOneSecond) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(absl::StrCat("  - name: quiet\n    command: [\"",
                                               FleetHarness::ChildPath(),
                                               "\", \"--print\", \"one line, then silence\"]\n"
                                               // Latency under test, not the starvation deferral
                                               // (a loaded CI box would trigger it).
                                               "    health: {log_max_age: 2s, starved_cpu_pressure: 100}\n"
                                               "    backoff: {initial: 0}\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return h.Instance("quiet/0").pid() > 0; },
                                      absl::Seconds(10)));
  // The first line lands right after the start; the window runs from there.
  ctl::InstanceStatus first = h.Instance("quiet/0");
  absl::Duration took = TimeToRestart(h, "quiet/0", first.pid(), absl::Seconds(10));
  EXPECT_LE(took, absl::Seconds(3)) << h.FleetdLog();
  ctl::InstanceStatus second = h.Instance("quiet/0");
  EXPECT_EQ(second.restarts(), 1u);
  EXPECT_THAT(second.reason(), HasSubstr("last restart: unhealthy: log stale 2.0s > 2s"));
  EXPECT_THAT(h.Fleetctl({"events", "-n", "50"}).out, HasSubstr("unhealthy  log stale 2.0s > 2s"));
}

TEST(HealthTest, FrozenInstanceIsRestarted) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(absl::StrCat("  - name: frozen\n    shell: \"while true; do "
                                               "echo tick; sleep 0.2; done\"\n",
                                               "    health: {log_max_age: 1s, starved_cpu_pressure: 100}\n"
                                               "    backoff: {initial: 0}\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("frozen/0").health() == "healthy"; }, absl::Seconds(10)))
      << h.Instance("frozen/0").health();
  ctl::InstanceStatus before = h.Instance("frozen/0");
  usleep(1500 * 1000);
  EXPECT_EQ(h.Instance("frozen/0").pid(), before.pid());  // Ticking: left alone.
  kill(-before.pid(), SIGSTOP);  // The whole group, as a debugger or OOM-freeze would.
  absl::Duration took = TimeToRestart(h, "frozen/0", before.pid(), absl::Seconds(10));
  EXPECT_LE(took, absl::Seconds(2) + absl::Milliseconds(500)) << h.FleetdLog();
  EXPECT_THAT(h.Instance("frozen/0").reason(), HasSubstr("unhealthy: log stale"));
}

TEST(HealthTest, BusyButSilentIsNotKilledWhenCpuProgressCounts) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml("  - name: cruncher\n    shell: \"while :; do :; done\"\n"
                                  "    health: {log_max_age: 1s, cpu_progress: true, "
                                  "cpu_window: 2s, period: 300ms, starved_cpu_pressure: 100}\n"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return h.Instance("cruncher/0").pid() > 0; },
                                      absl::Seconds(10)));
  int32_t pid = h.Instance("cruncher/0").pid();
  usleep(3500 * 1000);
  ctl::InstanceStatus now = h.Instance("cruncher/0");
  EXPECT_EQ(now.pid(), pid) << h.FleetdLog();
  EXPECT_EQ(now.restarts(), 0u);
  EXPECT_THAT(now.health(), HasSubstr("healthy: progressing (log stale"));
}

TEST(HealthTest, HealthPluginsAndBriefTellTheOperator) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", absl::StrCat(R"(name: it
run_dir: run
plugins:
  - {file: libnot-there.so, kind: health}
engines:
  - name: quiet
    command: [")", FleetHarness::ChildPath(), R"("]
    health: {log_max_age: 500ms, period: 100ms, starved_cpu_pressure: 100}
    backoff: {initial: 30s}
  - name: fine
    command: [")", FleetHarness::ChildPath(), R"(", "--print", "FLEET_METRIC cash=50"]
    kill_condition: "cash < $20"
)"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("quiet/0").state() == ctl::INSTANCE_STATE_BACKOFF; },
      absl::Seconds(10)))
      << h.FleetdLog();
  CommandResult health = h.Fleetctl({"health"});
  EXPECT_EQ(health.exit_code, 3);
  EXPECT_THAT(health.out, ::testing::ContainsRegex("fine/0 +yes +RUNNING +not checked +clear \\(cash=50\\)"));
  EXPECT_THAT(health.out, ::testing::ContainsRegex("quiet/0 +NO +BACKOFF"));
  CommandResult plugins = h.Fleetctl({"plugins"});
  EXPECT_EQ(plugins.exit_code, 1);
  EXPECT_THAT(plugins.out, HasSubstr("fleet.health.builtin"));
  EXPECT_THAT(plugins.out, HasSubstr("health plugin libnot-there.so not found in"));
  CommandResult brief = h.Fleetctl({"brief"});
  EXPECT_EQ(brief.exit_code, 3);
  EXPECT_THAT(brief.out, HasSubstr("plugins: 1 loaded, 1 refused"));
  EXPECT_THAT(brief.out, HasSubstr("needs attention:\n  quiet/0  BACKOFF  unhealthy: log stale"));
  EXPECT_THAT(brief.out, HasSubstr("recent warnings:"));
}

TEST(HealthTest, ExecProbesPassFailAndTimeOut) {
  FleetHarness h;
  h.WriteFile("ready", "");
  h.WriteFile("fleet.yaml", absl::StrCat(R"(name: it
run_dir: run
engines:
  - name: passes
    command: [")", FleetHarness::ChildPath(), R"("]
    health: {period: 200ms, exec: {command: [sh, -c, "test -f ready"]}}
  - name: fails
    command: [")", FleetHarness::ChildPath(), R"("]
    backoff: {initial: 1m}
    health: {period: 200ms, failure_threshold: 2, startup_grace: 0s,
             exec: {command: [sh, -c, "echo no ready file; exit 2"]}}
  - name: hangs
    command: [")", FleetHarness::ChildPath(), R"("]
    backoff: {initial: 1m}
    health: {period: 200ms, timeout: 300ms, failure_threshold: 1, startup_grace: 0s,
             exec: {command: [sleep, "30"]}}
)"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("passes/0").health() == "healthy"; }, absl::Seconds(10)))
      << h.Instance("passes/0").health();
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("fails/0").state() == ctl::INSTANCE_STATE_BACKOFF; },
      absl::Seconds(10)));
  EXPECT_THAT(h.Instance("fails/0").reason(),
              HasSubstr("unhealthy: exec probe sh exited with status 2: no ready file"));
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("hangs/0").state() == ctl::INSTANCE_STATE_BACKOFF; },
      absl::Seconds(10)));
  EXPECT_THAT(h.Instance("hangs/0").reason(), HasSubstr("exec probe sleep timed out after 300ms"));
  EXPECT_EQ(h.Instance("passes/0").restarts(), 0u);
}

// Probes default to Kubernetes' split: an app that takes 2 s to come up is
// not restarted (its failing probes during start-up do not count), and once
// it has been healthy, three failures in a row restart it.
TEST(HealthTest, ASlowBootIsNotRestartedButALaterFailureIs) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(R"(  - name: web
    shell: 'rm -f booted; sleep 2; touch booted; exec sleep 1000'
    backoff: {initial: 1m}
    health: {period: 200ms, exec: {command: [test, -f, booted]}}
)"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return absl::StartsWith(h.Instance("web/0").health(), "starting: "); },
      absl::Seconds(5)))
      << h.Instance("web/0").health();
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("web/0").health() == "healthy"; }, absl::Seconds(10)))
      << h.Instance("web/0").health();
  EXPECT_EQ(h.Instance("web/0").restarts(), 0u);
  const int32_t pid = h.Instance("web/0").pid();
  unlink((h.dir() + "/booted").c_str());  // It stops answering.
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("web/0").state() == ctl::INSTANCE_STATE_BACKOFF; },
      absl::Seconds(10)));
  EXPECT_NE(h.Instance("web/0").pid(), pid);
  const std::string events = h.Fleetctl({"events", "-n", "50"}).out;
  EXPECT_THAT(events, HasSubstr("(1 of 3)"));
  EXPECT_THAT(events, HasSubstr("(2 of 3)"));
}

TEST(HealthTest, AMissingPluginIsReportedNotFatal) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(absl::StrCat("  - name: a\n    command: [\"", FleetHarness::ChildPath(),
                                               "\"]\n    health: {log_max_age: 1m, check: "
                                               "com.example.nope}\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return h.Instance("a/0").health() ==
               "unknown: health plugin 'com.example.nope' is not loaded (see fleetd's log)";
      },
      absl::Seconds(10)))
      << h.Instance("a/0").health();
}

}  // namespace
}  // namespace fleet::testing
