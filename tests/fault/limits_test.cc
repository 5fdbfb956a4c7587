// Fault: the machine's limits are used up around fleetd. With no inotify
// instance left (fs.inotify.max_user_instances; injected with strace so the
// rest of the machine is untouched), fleetd and its pipe keeper still start,
// say that they poll, and what inotify would have told them still arrives:
// a metrics file trips its kill condition, the stop flag stops fleetd.
#include <signal.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fault/invariants.h"
#include "tests/integration/fleet_harness.h"

namespace fleet::testing {
namespace {

using ::testing::HasSubstr;
namespace ctl = ::fleet::control::v1;

TEST(LimitsTest, WithoutInotifyFleetdPollsAndMissesNothing) {
  if (!StraceWorks()) GTEST_SKIP() << "strace is not installed or cannot trace here";
  FleetHarness h;
  h.set_fleetd_wrapper({"strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=inotify_init1",
                        "-e", "inject=inotify_init1:error=EMFILE"});
  h.WriteFile("fleet.yaml", FleetYaml(absl::StrCat(
                                "  - name: bot\n    command: [\"", FleetHarness::ChildPath(),
                                "\"]\n    metrics_path: metrics/bot.json\n"
                                "    kill_condition: \"loss > 10\"\n"
                                "  - name: calm\n    shell: 'exec sleep 1000'\n")));
  h.WriteFile("metrics/bot.json", R"({"loss": 1})");
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_THAT(AwaitHealed(h, {"bot/0", "calm/0"}, absl::Seconds(15)), ::testing::IsEmpty());
  const std::string events = h.Fleetctl({"events", "-n", "100"}).out;
  EXPECT_THAT(events, HasSubstr("inotify_unavailable"));
  EXPECT_THAT(events, HasSubstr("fs.inotify.max_user_instances"));

  h.WriteFile("metrics/bot.json", R"({"loss": 12})");
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("bot/0").state() == ctl::INSTANCE_STATE_KILLED; },
      absl::Seconds(5)))
      << h.FleetdLog();
  EXPECT_EQ(h.Instance("calm/0").restarts(), 0u);

  h.WriteFile("run/stop", "");
  EXPECT_EQ(h.WaitFleetdExit(absl::Seconds(15)), 0) << h.FleetdLog();
}

}  // namespace
}  // namespace fleet::testing
