// Kill conditions on real processes: from a metrics file and from FLEET_METRIC
// output lines; the engine stays down until the operator starts it.
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "core/os/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/fleet_harness.h"

namespace fleet::testing {
namespace {

using ::testing::HasSubstr;
namespace ctl = ::fleet::control::v1;

TEST(KillConditionTest, TripsFromAMetricsFileAndStaysDown) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", absl::StrCat(R"(name: it
run_dir: run
engines:
  - name: bot
    command: [")", FleetHarness::ChildPath(), R"("]
    min_uptime: 100ms
    backoff: {initial: 0}
    metrics_path: metrics/bot.json
    kill_condition: "daily_loss > $10 OR cash < $20"
)"));
  h.WriteFile("metrics/bot.json", R"({"cash": 50})");
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("bot/0").state() == ctl::INSTANCE_STATE_RUNNING; }, absl::Seconds(10)));
  // Never published: reported, not read as false.
  EXPECT_EQ(h.Instance("bot/0").condition(), "unknown: daily_loss never published");
  h.WriteFile("metrics/bot.json", R"({"cash": 50, "daily_loss": 3})");
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("bot/0").condition() == "clear (daily_loss=3 cash=50)"; },
      absl::Seconds(5)))
      << h.Instance("bot/0").condition();
  h.WriteFile("metrics/bot.json", "{\"cash\": 50, \"daily_loss\": ");  // Torn: ignored, reported.
  h.WriteFile("metrics/bot.json", R"({"cash": 50, "daily_loss": 12.5})");
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("bot/0").state() == ctl::INSTANCE_STATE_KILLED; }, absl::Seconds(5)))
      << h.FleetdLog();
  ctl::InstanceStatus killed = h.Instance("bot/0");
  EXPECT_THAT(killed.reason(),
              HasSubstr("kill condition 'daily_loss > $10 OR cash < $20' holds (daily_loss=12.5 "
                        "cash=50)"));
  EXPECT_EQ(killed.pid(), 0);
  EXPECT_THAT(h.FleetdLog(), HasSubstr("bot/0 metrics_error"));
  // Stays down: no restart, whatever the backoff says.
  usleep(500 * 1000);
  EXPECT_EQ(h.Instance("bot/0").state(), ctl::INSTANCE_STATE_KILLED);
  EXPECT_EQ(h.Fleetctl({"status"}).exit_code, 3);
  // The operator fixes the cause and starts it again.
  h.WriteFile("metrics/bot.json", R"({"cash": 50, "daily_loss": 0})");
  EXPECT_EQ(h.Fleetctl({"start", "bot"}).exit_code, 0);
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("bot/0").state() == ctl::INSTANCE_STATE_RUNNING; }, absl::Seconds(10)));
}

TEST(KillConditionTest, TripsFromAnOutputLine) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", absl::StrCat(R"(name: it
run_dir: run
engines:
  - name: bot
    command: [")", FleetHarness::ChildPath(), R"(", "--print", "FLEET_METRIC cash=$19.5"]
    kill_condition: "cash < $20"
)"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("bot/0").state() == ctl::INSTANCE_STATE_KILLED; }, absl::Seconds(10)))
      << h.FleetdLog();
  EXPECT_THAT(h.Instance("bot/0").reason(), HasSubstr("'cash < $20' holds (cash=19.5)"));
  EXPECT_THAT(h.Fleetctl({"events", "-n", "50"}).out, HasSubstr("condition_killed"));
}

}  // namespace
}  // namespace fleet::testing
