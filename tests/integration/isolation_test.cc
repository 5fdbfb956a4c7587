// isolation: process: a plugin that segfaults or hangs in a helper process
// costs only the helper; fleetd and the workload carry on.
#include <signal.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/fleet_harness.h"

namespace fleet::testing {
namespace {

using ::testing::HasSubstr;
namespace ctl = ::fleet::control::v1;

std::string Plugin(const std::string& name) {
  return absl::StrCat("  - {file: \"",
                      FleetHarness::RunfilePath("tests/testdata/plugins/lib" + name + ".so"),
                      "\", kind: health, isolation: process}\n");
}

std::string Engine(const std::string& name, const std::string& check,
                   const std::string& timeout = "300ms") {
  return absl::StrCat("  - name: ", name, "\n    command: [\"", FleetHarness::ChildPath(),
                      "\"]\n    health: {check: ", check, ", period: 200ms, timeout: ", timeout,
                      ", initial_delay: 0}\n");
}

TEST(IsolationTest, CrashingAndHangingPluginsDoNotTakeFleetdDown) {
  FleetHarness h;
  h.WriteFile("fleet.yaml",
              absl::StrCat("name: it\nrun_dir: run\nplugins:\n", Plugin("always_healthy"),
                           Plugin("crashes"), Plugin("hangs"), "engines:\n",
                           Engine("good", "test.health.always_healthy"),
                           // A crash is seen when it happens, whatever the
                           // timeout (a sanitizer's crash report takes a while).
                           Engine("crashy", "test.health.crashes", "5s"),
                           Engine("stuck", "test.health.hangs")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("good/0").health() == "healthy: all good for good"; },
      absl::Seconds(10)))
      << h.Instance("good/0").health();
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("crashy/0").health().find("helper process died") != std::string::npos; },
      absl::Seconds(10)))
      << h.Instance("crashy/0").health();
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return h.Instance("stuck/0").health().find("did not answer within 300ms") !=
               std::string::npos;
      },
      absl::Seconds(10)))
      << h.Instance("stuck/0").health();
  // Everything still runs; nothing was restarted for the plugins' sake, and
  // the healthy plugin keeps answering after its neighbours' helpers died.
  for (const char* id : {"good/0", "crashy/0", "stuck/0"}) {
    EXPECT_TRUE(FleetHarness::WaitUntil(
        [&] { return h.Instance(id).state() == ctl::INSTANCE_STATE_RUNNING; }, absl::Seconds(5)))
        << id;
    EXPECT_EQ(h.Instance(id).restarts(), 0u) << id;
  }
  EXPECT_TRUE(FleetHarness::ProcessAlive(h.fleetd_pid()));
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        ctl::InstanceStatus i = h.Instance("good/0");
        return i.health_checked_ms_ago() >= 0 && i.health_checked_ms_ago() < 1000;
      },
      absl::Seconds(5)));
  // Logged once when it starts, not at every check.
  std::string events = h.Fleetctl({"events", "-n", "500"}).out;
  size_t first = events.find("crashy/0  health_unknown");
  EXPECT_NE(first, std::string::npos) << events;
  EXPECT_EQ(events.find("crashy/0  health_unknown", first + 1), std::string::npos) << events;
  CommandResult plugins = h.Fleetctl({"plugins"});
  EXPECT_EQ(plugins.exit_code, 0) << plugins.out;
  EXPECT_THAT(plugins.out, HasSubstr("test.health.crashes"));
  EXPECT_THAT(plugins.out, HasSubstr("process"));
}

TEST(IsolationTest, AHungInProcessPluginIsReportedAndFleetdStillExits) {
  FleetHarness h;
  h.WriteFile("fleet.yaml",
              absl::StrCat("name: it\nrun_dir: run\nplugins:\n  - {file: \"",
                           FleetHarness::RunfilePath("tests/testdata/plugins/libhangs.so"),
                           "\", kind: health}\nengines:\n", Engine("stuck", "test.health.hangs")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("stuck/0").health().find("has not answered") != std::string::npos; },
      absl::Seconds(10)))
      << h.Instance("stuck/0").health();
  EXPECT_EQ(h.Instance("stuck/0").restarts(), 0u);
  kill(h.fleetd_pid(), SIGTERM);
  EXPECT_EQ(h.WaitFleetdExit(absl::Seconds(15)), 0) << h.FleetdLog();
  EXPECT_THAT(h.FleetdLog(), HasSubstr("not waiting for it"));
}

TEST(IsolationTest, APluginWhoseConstructorAbortsIsRefusedAndFleetdRuns) {
  FleetHarness h;
  h.WriteFile("fleet.yaml",
              absl::StrCat("name: it\nrun_dir: run\nplugins:\n  - {file: \"",
                           FleetHarness::RunfilePath("tests/testdata/plugins/libaborts_at_load.so"),
                           "\", kind: health}\nengines:\n",
                           Engine("w", "test.health.aborts_at_load")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("w/0").state() == ctl::INSTANCE_STATE_RUNNING; },
      absl::Seconds(10)));
  CommandResult plugins = h.Fleetctl({"plugins"});
  EXPECT_THAT(plugins.out, HasSubstr("crashed its trial process (killed by SIGABRT"))
      << plugins.out << plugins.err;
  EXPECT_TRUE(FleetHarness::ProcessAlive(h.fleetd_pid()));
  kill(h.fleetd_pid(), SIGTERM);
  EXPECT_EQ(h.WaitFleetdExit(absl::Seconds(15)), 0) << h.FleetdLog();
}

}  // namespace
}  // namespace fleet::testing
