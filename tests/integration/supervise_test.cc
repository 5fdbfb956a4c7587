// fleetd supervising real processes: restarts, crash loops, process groups,
// descriptors, environment, dependencies and clean shutdown.
#include <signal.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/os/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "re2/re2.h"
#include "tests/integration/fleet_harness.h"

namespace fleet::testing {
namespace {

using ::testing::HasSubstr;
namespace ctl = ::fleet::control::v1;

// A fleet file whose engines run the child program with `args`.
std::string Engine(const std::string& name, const std::string& args,
                   const std::string& extra = "") {
  return absl::StrCat(
      "  - name: ", name, "\n    command: [\"", FleetHarness::ChildPath(), "\"",
      args.empty() ? "" : ", ", args, "]\n",
      extra.find("min_uptime") == std::string::npos ? "    min_uptime: 100ms\n" : "", extra);
}

TEST(SuperviseTest, KilledInstanceIsRestartedAndCounted) {
  FleetHarness h;
  h.WriteFile("fleet.yaml",
              FleetYaml(Engine("w", "", "    replicas: 2\n    backoff: {initial: 0}\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("w/1").state() == ctl::INSTANCE_STATE_RUNNING; }, absl::Seconds(10)));
  ctl::InstanceStatus before = h.Instance("w/1");
  ASSERT_GT(before.pid(), 0);
  ASSERT_EQ(kill(before.pid(), SIGKILL), 0);
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        ctl::InstanceStatus now = h.Instance("w/1");
        return now.pid() > 0 && now.pid() != before.pid() && now.restarts() == 1;
      },
      absl::Seconds(10)))
      << h.FleetdLog();
  ctl::InstanceStatus after = h.Instance("w/1");
  EXPECT_EQ(after.last_exit().signal(), SIGKILL);
  EXPECT_TRUE(FleetHarness::ProcessAlive(after.pid()));
  EXPECT_EQ(h.Instance("w/0").restarts(), 0u);  // Its sibling was left alone.
  EXPECT_THAT(h.Fleetctl({"events", "-n", "50"}).out, HasSubstr("w/1  exited  killed by SIGKILL"));
}

TEST(SuperviseTest, WithDefaultBackoffAStableRunRestartsAtOnceAndAnUnstableOneWaits) {
  FleetHarness h;
  // The default backoff (500ms initial); min_uptime 1s (the default too).
  h.WriteFile("fleet.yaml", FleetYaml(Engine("w", "", "    min_uptime: 1s\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("w/0").state() == ctl::INSTANCE_STATE_RUNNING; }, absl::Seconds(10)));
  absl::SleepFor(absl::Milliseconds(200));  // Up well past the 1s floor.
  const pid_t stable = h.Instance("w/0").pid();
  ASSERT_EQ(kill(stable, SIGKILL), 0);
  pid_t unstable = 0;
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        unstable = h.Instance("w/0").pid();
        return unstable > 0 && unstable != stable;
      },
      absl::Seconds(10)));
  // Killed again at once, while STARTING: an unstable run, which waits its
  // backoff (told by the events: a slow machine may look too late to see
  // BACKOFF itself).
  ASSERT_EQ(kill(unstable, SIGKILL), 0);
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return h.Fleetctl({"events", "-n", "50"}).out.find("killed by SIGKILL; restart in") !=
               std::string::npos;
      },
      absl::Seconds(5)))
      << h.Fleetctl({"events", "-n", "50"}).out;
  const std::string events = h.Fleetctl({"events", "-n", "50"}).out;
  EXPECT_THAT(events, HasSubstr("w/0  exited  killed by SIGKILL after"));
  EXPECT_THAT(events, HasSubstr("(a stable run): restarted at once"));
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("w/0").pid() > 0 && h.Instance("w/0").pid() != unstable; },
      absl::Seconds(10)));
  EXPECT_EQ(h.Instance("w/0").restarts(), 2u);
}

// An exit is judged at the time it is reaped, not at the time the loop last
// woke: with nothing due, the loop sleeps right after the instance is
// RUNNING (min_uptime 100ms), and a kill 2.5 s later is a stable run.
TEST(SuperviseTest, AnExitAfterTheLoopSleptIsTimedFromWhenItHappened) {
  FleetHarness h;
  // A silent worker whose child holds its output open: its death wakes the
  // loop with SIGCHLD alone (no hang-up on its pipes first).
  h.WriteFile("fleet.yaml", FleetYaml("  - name: w\n    shell: 'sleep 1000 & exec sleep 1000'\n"
                                      "    min_uptime: 100ms\n"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("w/0").state() == ctl::INSTANCE_STATE_RUNNING; }, absl::Seconds(10)));
  const pid_t first = h.Instance("w/0").pid();
  absl::SleepFor(absl::Milliseconds(2500));  // No request wakes the loop either.
  ASSERT_EQ(kill(first, SIGKILL), 0);
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("w/0").pid() > 0 && h.Instance("w/0").pid() != first; },
      absl::Seconds(10)));
  const std::string events = h.Fleetctl({"events", "-n", "50"}).out;
  EXPECT_THAT(events, HasSubstr("(a stable run): restarted at once")) << events;
  double up_s = 0;
  ASSERT_TRUE(RE2::PartialMatch(events, R"(killed by SIGKILL after ([0-9.]+)s up)", &up_s))
      << events;
  EXPECT_GE(up_s, 2.5) << events;
  EXPECT_THAT(events, ::testing::Not(HasSubstr("stalled"))) << events;
}

TEST(SuperviseTest, TooFewDescriptorsForTheConfigAreSaidAndChildrenGetTheOriginalLimit) {
  FleetHarness h;
  // Soft 200, hard 300: fleetd raises itself to 300; 60 instances need ~304
  // (they hold ~200: the estimate keeps room for clients and plugins), and
  // without CAP_SYS_RESOURCE it may not go past the hard limit.
  h.set_fleetd_wrapper(
      {"prlimit", "--nofile=200:300", "--", "setpriv", "--bounding-set", "-sys_resource", "--"});
  h.WriteFile("fleet.yaml", FleetYaml(Engine("w", "", "    replicas: 60\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return h.Fleetctl({"events", "-n", "1000"}).out.find("fd_limit") != std::string::npos;
      },
      absl::Seconds(10)))
      << h.Fleetctl({"events", "-n", "1000"}).out;
  EXPECT_THAT(h.Fleetctl({"events", "-n", "1000"}).out,
              HasSubstr("60 instances need about 304 open descriptors and fleetd may have 300"));
  EXPECT_THAT(h.FleetdLog(), HasSubstr("descriptor limit raised from 200 to 300"));
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("w/0").state() == ctl::INSTANCE_STATE_RUNNING; }, absl::Seconds(10)));
  // What an instance was given: the limit fleetd was started with.
  const pid_t pid = h.Instance("w/0").pid();
  const std::string limits = FleetHarness::FileText(absl::StrCat("/proc/", pid, "/limits"));
  EXPECT_THAT(limits, ::testing::ContainsRegex("Max open files +200 +300"));
}

// Where fleetd may (root with CAP_SYS_RESOURCE), it raises even the hard
// limit to what the config needs; children still get the original limit.
TEST(SuperviseTest, WhereItMayFleetdRaisesTheHardLimitToWhatTheConfigNeeds) {
  if (system("prlimit --nofile=200:300 -- sh -c 'ulimit -Hn 400' 2>/dev/null") != 0) {
    GTEST_SKIP() << "this process may not raise a hard limit (no CAP_SYS_RESOURCE)";
  }
  FleetHarness h;
  h.set_fleetd_wrapper({"prlimit", "--nofile=200:300", "--"});
  h.WriteFile("fleet.yaml", FleetYaml(Engine("w", "", "    replicas: 60\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("w/59").state() == ctl::INSTANCE_STATE_RUNNING; }, absl::Seconds(20)))
      << h.FleetdLog();
  EXPECT_THAT(h.FleetdLog(), HasSubstr("descriptor limit raised from 300 to 304 for 60 instances"));
  EXPECT_THAT(h.Fleetctl({"events", "-n", "1000"}).out, ::testing::Not(HasSubstr("fd_limit")));
  const std::string limits =
      FleetHarness::FileText(absl::StrCat("/proc/", h.Instance("w/0").pid(), "/limits"));
  EXPECT_THAT(limits, ::testing::ContainsRegex("Max open files +200 +300"));
}

TEST(SuperviseTest, CrashLoopReachesFatalWithReasonAndStartRevivesIt) {
  FleetHarness h;
  h.WriteFile("fleet.yaml",
              FleetYaml(Engine("crash", "\"--exit-after\", \"0\", \"--exit-code\", \"3\"",
                               "    backoff: {initial: 10ms, max: 50ms}\n"
                               "    crash_loop: {max_failures: 4, window: 1m}\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("crash/0").state() == ctl::INSTANCE_STATE_FATAL; },
      absl::Seconds(10)))
      << h.FleetdLog();
  ctl::InstanceStatus fatal = h.Instance("crash/0");
  EXPECT_EQ(fatal.reason(), "crash loop: 4 failures within 1m; last: exited with status 3");
  EXPECT_EQ(fatal.last_exit().code(), 3);
  CommandResult status = h.Fleetctl({"status"});
  EXPECT_EQ(status.exit_code, 3);  // Not everything is running.
  EXPECT_THAT(status.out, HasSubstr("FATAL"));
  // The operator's start gives it a fresh crash history: it runs again (its
  // starts are counted from the events: a slow machine may look too late to
  // see it out of FATAL, which it is for milliseconds).
  auto starts = [&h] {
    const std::string events = h.Fleetctl({"events", "-n", "1000"}).out;
    int n = 0;
    for (size_t at = events.find("crash/0  started"); at != std::string::npos;
         at = events.find("crash/0  started", at + 1)) {
      ++n;
    }
    return n;
  };
  const int before = starts();
  EXPECT_EQ(h.Fleetctl({"start", "--no-wait", "crash"}).exit_code, 0);
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return starts() > before; }, absl::Seconds(5)));
  // Waiting (the default), start says that it crash-looped again, and fails.
  CommandResult waited = h.Fleetctl({"start", "crash"});
  EXPECT_EQ(waited.exit_code, 1);
  EXPECT_THAT(waited.out, HasSubstr("crash/0: FATAL (crash loop"));
}

TEST(SuperviseTest, StopKillsTheWholeGroupIncludingAStubbornGrandchild) {
  FleetHarness h;
  h.WriteFile("fleet.yaml",
              FleetYaml(Engine("g",
                               absl::StrCat("\"--ignore-sigterm\", \"--grandchild\", \"", h.dir(),
                                            "/grandchild.pid\""),
                               "    stop: {grace: 300ms}\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(
      FleetHarness::WaitUntil([&] { return h.ReadPid("grandchild.pid") > 0; }, absl::Seconds(10)));
  pid_t grandchild = h.ReadPid("grandchild.pid");
  pid_t child = h.Instance("g/0").pid();
  ASSERT_TRUE(FleetHarness::ProcessAlive(grandchild));
  // stop waits (by default) until it has happened, and says so.
  CommandResult stop = h.Fleetctl({"stop", "g"});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_THAT(stop.out, HasSubstr("g/0: stopped ("));
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("g/0").state() == ctl::INSTANCE_STATE_STOPPED; }, absl::Seconds(10)));
  EXPECT_THAT(h.Instance("g/0").reason(), HasSubstr("sent SIGKILL"));
  // Both gone and reaped (fleetd is their subreaper): no survivor, no zombie.
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return !os::ReadFile(absl::StrCat("/proc/", grandchild, "/stat")).ok() &&
               !os::ReadFile(absl::StrCat("/proc/", child, "/stat")).ok();
      },
      absl::Seconds(5)));
}

TEST(SuperviseTest, ChildSeesOnlyStdioAndItsFleetEnvironment) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(Engine("e",
                                             absl::StrCat("\"--dump-fds\", \"", h.dir(),
                                                          "/fds\", \"--dump-env\", \"", h.dir(),
                                                          "/env\", \"--print\", \"hello from e\""),
                                             "    replicas: 2\n    env: {MODE: test}\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return os::ReadFile(h.dir() + "/env").ok(); },
                                      absl::Seconds(10)));
  EXPECT_EQ(*os::ReadFile(h.dir() + "/fds"), "0 1 2");
  std::string env = *os::ReadFile(h.dir() + "/env");
  EXPECT_THAT(env, HasSubstr("FLEET_ENGINE=e\n"));
  EXPECT_THAT(env, HasSubstr(absl::StrCat("FLEET_RUN_DIR=", h.run_dir(), "\n")));
  EXPECT_THAT(env, ::testing::ContainsRegex("FLEET_INSTANCE=[01]\n"));
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return absl::EndsWith(h.Fleetctl({"logs", "e/1"}).out, "---\nhello from e\n");
      },
      absl::Seconds(5)));
  EXPECT_EQ(FleetHarness::CapturedText(h.run_dir() + "/logs/e.0.log"), "hello from e\n");
}

TEST(SuperviseTest, DependentsStartAfterTheirDependencyRuns) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(Engine("db", "", "    min_uptime: 500ms\n") +
                                      Engine("app", "", "    depends_on: [db]\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("app/0").state() == ctl::INSTANCE_STATE_RUNNING; },
      absl::Seconds(10)));
  std::string events = h.Fleetctl({"events", "-n", "100"}).out;
  size_t db_running = events.find("db/0  running");
  size_t app_started = events.find("app/0  started");
  ASSERT_NE(db_running, std::string::npos) << events;
  ASSERT_NE(app_started, std::string::npos) << events;
  EXPECT_LT(db_running, app_started) << events;
}

TEST(SuperviseTest, StopFlagShutsDownInReverseDependencyOrder) {
  FleetHarness h;
  h.WriteFile("fleet.yaml",
              FleetYaml(Engine("db", "") + Engine("app", "", "    depends_on: [db]\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("app/0").state() == ctl::INSTANCE_STATE_RUNNING; },
      absl::Seconds(10)));
  pid_t db = h.Instance("db/0").pid();
  pid_t app = h.Instance("app/0").pid();
  h.WriteFile("run/stop", "");
  EXPECT_EQ(h.WaitFleetdExit(absl::Seconds(15)), 0) << h.FleetdLog();
  EXPECT_FALSE(FleetHarness::ProcessAlive(db));
  EXPECT_FALSE(FleetHarness::ProcessAlive(app));
  std::string log = h.FleetdLog();
  EXPECT_LT(log.find("app/0 stopped"), log.find("db/0 stopped")) << log;
  EXPECT_FALSE(os::ReadFile(h.run_dir() + "/stop").ok());        // Consumed.
  EXPECT_FALSE(os::ReadFile(h.run_dir() + "/fleetd.pid").ok());  // Removed on exit.
}

TEST(SuperviseTest, SigtermStopsEverythingAndExitsZero) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(Engine("w", "", "    replicas: 3\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("w/2").state() == ctl::INSTANCE_STATE_RUNNING; }, absl::Seconds(10)));
  std::vector<pid_t> pids;
  for (const char* id : {"w/0", "w/1", "w/2"}) pids.push_back(h.Instance(id).pid());
  kill(h.fleetd_pid(), SIGTERM);
  EXPECT_EQ(h.WaitFleetdExit(absl::Seconds(15)), 0) << h.FleetdLog();
  for (pid_t pid : pids) EXPECT_FALSE(FleetHarness::ProcessAlive(pid)) << pid;
}

TEST(SuperviseTest, OutputIsRotatedWithABoundedNumberOfFiles) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(Engine("spam", "\"--spam\", \"100000\"",
                                             "    logs: {max_size: 16KB, max_files: 2}\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  const std::string log = h.run_dir() + "/logs/spam.0.log";
  // The child writes 100 KB and stops: wait for the last rotation to settle.
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return os::ReadFile(log + ".2").ok() && os::ReadFile(log + ".1").ok(); },
      absl::Seconds(10)));
  EXPECT_FALSE(os::ReadFile(log + ".3").ok());
  EXPECT_LE(os::ReadFile(log + ".1").value_or("").size(), 16u * 1024);
  EXPECT_LE(os::ReadFile(log).value_or("").size(), 16u * 1024);
  EXPECT_EQ(h.Instance("spam/0").restarts(), 0u);  // Rotation never touches the process.
}

TEST(SuperviseTest, ACycleEngineRunsAgainAfterItsIntervalAndAHungRunTimesOut) {
  FleetHarness h;
  // "ok" runs finish at once; "stuck" runs never would.
  h.WriteFile("fleet.yaml",
              FleetYaml("  - name: ok\n    shell: 'echo run'\n    cycle: {interval: 200ms}\n"
                        "  - name: stuck\n    shell: 'echo begin; exec sleep 1000'\n"
                        "    cycle: {interval: 200ms, timeout: 3s}\n    stop: {grace: 1s}\n"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        const std::string out = h.Fleetctl({"logs", "ok", "-n", "10"}).out;
        return std::count(out.begin(), out.end(), '\n') >= 4;
      },
      absl::Seconds(20)));
  ctl::InstanceStatus ok = h.Instance("ok/0");
  EXPECT_EQ(ok.restarts(), 0u);  // Runs that succeed are not restarts.
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return h.Instance("stuck/0").restarts() >= 1; },
                                      absl::Seconds(20)));
  ctl::InstanceStatus stuck = h.Instance("stuck/0");
  EXPECT_THAT(stuck.reason(), HasSubstr("run timed out after 3s"));
  EXPECT_THAT(h.Fleetctl({"events", "-n", "100"}).out, HasSubstr("timed_out"));
  // An IDLE cycle engine is up: status can exit 0 with one idle.
  ASSERT_EQ(h.Fleetctl({"stop", "stuck"}).exit_code, 0);
  ASSERT_EQ(h.Fleetctl({"start", "stuck"}).exit_code, 0);
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return h.Instance("ok/0").state() == ctl::INSTANCE_STATE_IDLE &&
               h.Instance("stuck/0").state() == ctl::INSTANCE_STATE_RUNNING &&
               h.Fleetctl({"status"}).exit_code == 0;
      },
      absl::Seconds(20)));
}

}  // namespace
}  // namespace fleet::testing
