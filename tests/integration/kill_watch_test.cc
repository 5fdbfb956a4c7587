// `fleetd kill-watch`: a worker under its kill condition without a fleetd
// (what an exported Kubernetes container runs), with real processes: the
// condition read from a metrics file and from FLEET_METRIC lines, the
// worker stopped for good through a marker, started again when the marker
// goes, signals passed on and exit codes passed back.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/fleet_harness.h"

namespace fleet::testing {
namespace {

using ::testing::HasSubstr;

class KillWatchTest : public ::testing::Test {
 protected:
  // fleetd kill-watch ARGS -- sh -c SCRIPT, output to dir/out.
  pid_t Start(std::vector<std::string> args, const std::string& script) {
    std::vector<std::string> argv = {FleetHarness::FleetdPath(), "kill-watch"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--", "/bin/sh", "-c", script});
    return FleetHarness::Spawn(argv, {}, Path("out"));
  }
  std::string Path(const std::string& name) const { return h_.dir() + "/" + name; }
  std::string Out() const { return FleetHarness::FileText(Path("out")); }
  void Write(const std::string& name, const std::string& text) const {
    std::ofstream(Path(name) + ".tmp") << text;
    rename((Path(name) + ".tmp").c_str(), Path(name).c_str());
  }

  FleetHarness h_;
};

TEST_F(KillWatchTest, AHeldConditionStopsTheWorkerForGoodUntilTheMarkerGoes) {
  Write("m.json", R"({"cash": 50})");
  const pid_t watch =
      Start({"--condition", "cash < 20", "--metrics", Path("m.json"), "--marker", Path("stopped"),
             "--every", "100ms"},
            absl::StrCat("echo run >> ", Path("runs"),
                         "; trap 'echo got-term; exit 0' TERM; while :; do sleep 0.05; done"));
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return FleetHarness::FileText(Path("runs")) == "run\n"; }, absl::Seconds(10)));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(access(Path("stopped").c_str(), F_OK), -1);  // 50 is not < 20.
  Write("m.json", R"({"cash": 10})");
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return Out().find("got-term") != std::string::npos; },
                                      absl::Seconds(10)))
      << Out();
  EXPECT_THAT(FleetHarness::FileText(Path("stopped")), HasSubstr("cash=10"));
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return Out().find("remove " + Path("stopped")) != std::string::npos; },
      absl::Seconds(10)));
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(FleetHarness::FileText(Path("runs")), "run\n");  // Stays stopped.

  // The operator's start: the marker goes, the worker runs again.
  Write("m.json", R"({"cash": 30})");
  ASSERT_EQ(unlink(Path("stopped").c_str()), 0);
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return FleetHarness::FileText(Path("runs")) == "run\nrun\n"; }, absl::Seconds(15)));
  kill(watch, SIGTERM);
  EXPECT_EQ(FleetHarness::WaitExit(watch), 0);  // Its trap exited 0.
}

TEST_F(KillWatchTest, FleetMetricLinesCountAndTheOutputPassesThrough) {
  const pid_t watch = Start({"--condition", "loss > 10", "--every", "100ms"},
                            "echo hello; echo 'FLEET_METRIC loss=$50'; exec sleep 1000");
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return Out().find("stopping the worker for good") != std::string::npos; },
      absl::Seconds(10)))
      << Out();
  EXPECT_THAT(Out(), HasSubstr("hello\n"));
  EXPECT_THAT(Out(), HasSubstr("loss=50"));
  // No marker: kill-watch stays, parked, until it is stopped.
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return Out().find("parked") != std::string::npos; },
                                      absl::Seconds(10)));
  kill(watch, SIGTERM);
  EXPECT_EQ(FleetHarness::WaitExit(watch), 0);
}

TEST_F(KillWatchTest, AWorkerThatIgnoresSigtermIsKilledAfterTheGrace) {
  const absl::Time start = absl::Now();
  const pid_t watch = Start({"--condition", "x >= 1", "--every", "100ms", "--grace", "500ms"},
                            "trap '' TERM; echo 'FLEET_METRIC x=1'; while :; do sleep 0.05; done");
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return Out().find("killed by SIGKILL") != std::string::npos; }, absl::Seconds(10)))
      << Out();
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(500));
  kill(watch, SIGTERM);
  EXPECT_EQ(FleetHarness::WaitExit(watch), 0);
}

TEST_F(KillWatchTest, SignalsArePassedOnAndTheWorkersExitCodeComesBack) {
  EXPECT_EQ(FleetHarness::WaitExit(Start({"--condition", "x > 1"}, "exit 3")), 3);
  const pid_t watch = Start({"--condition", "x > 1"},
                            "trap 'echo term-seen; exit 7' TERM; while :; do sleep 0.05; done");
  absl::SleepFor(absl::Milliseconds(300));
  kill(watch, SIGTERM);
  EXPECT_EQ(FleetHarness::WaitExit(watch), 7);
  EXPECT_THAT(Out(), HasSubstr("term-seen"));
  EXPECT_THAT(Out(), HasSubstr("waits for x (never published)"));
}

TEST_F(KillWatchTest, ABadConditionIsRefusedWithItsColumn) {
  CommandResult bad = h_.Run(
      {FleetHarness::FleetdPath(), "kill-watch", "--condition", "cash <", "--", "/bin/true"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("column"));
  CommandResult no_command =
      h_.Run({FleetHarness::FleetdPath(), "kill-watch", "--condition", "cash < 1"});
  EXPECT_EQ(no_command.exit_code, 2);
  EXPECT_THAT(no_command.err, HasSubstr("after --"));
}

}  // namespace
}  // namespace fleet::testing
