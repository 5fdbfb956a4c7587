// What an instance starts ends with it: a grandchild that leaves the process
// group (setsid, as daemons do) is ended when its instance stops or exits,
// through the instance's cgroup where cgroups are writable, and through
// fleetd's role as child subreaper where they are not (FLEET_CGROUPS=off).
#include <signal.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/fleet_harness.h"

namespace fleet::testing {
namespace {

using ::testing::HasSubstr;
namespace ctl = ::fleet::control::v1;

class OrphansTest : public ::testing::TestWithParam<bool> {
 protected:
  std::vector<std::string> Env() const {
    return GetParam() ? std::vector<std::string>{} : std::vector<std::string>{"FLEET_CGROUPS=off"};
  }
  // An engine whose instance forks a setsid grandchild that ignores SIGTERM;
  // with exit_after, the instance itself exits then (and is restarted).
  static std::string Engine(const FleetHarness& h, const std::string& exit_after) {
    return FleetYaml(absl::StrCat(
        "  - name: g\n    command: [\"", FleetHarness::ChildPath(),
        "\", \"--setsid-grandchild\", \"", h.dir(), "/grandchild.pid\"",
        exit_after.empty() ? "" : ", \"--exit-after\", \"", exit_after,
        exit_after.empty() ? "" : "\"",
        "]\n    min_uptime: 100ms\n    stop: {grace: 300ms}\n    backoff: {initial: 200ms}\n"));
  }
};

TEST_P(OrphansTest, StoppingAnEngineEndsItsSetsidGrandchild) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", Engine(h, ""));
  ASSERT_TRUE(h.StartFleetd(Env()).ok()) << h.FleetdLog();
  pid_t grandchild = 0;
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return (grandchild = h.ReadPid("grandchild.pid")) > 0; }, absl::Seconds(10)));
  ASSERT_TRUE(FleetHarness::ProcessAlive(grandchild));
  const pid_t leader = h.Instance("g/0").pid();
  ASSERT_GT(leader, 0);
  EXPECT_NE(getpgid(grandchild), leader);  // A group kill would miss it.
  EXPECT_EQ(h.Fleetctl({"stop", "g"}).exit_code, 0);
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return !FleetHarness::ProcessAlive(grandchild); },
                                      absl::Seconds(10)))
      << h.FleetdLog();
  EXPECT_THAT(h.Fleetctl({"events", "-n", "50"}).out, HasSubstr("g/0  leftovers_killed"));
}

TEST_P(OrphansTest, AnInstanceThatExitsTakesItsGrandchildWithItAndNoneAccumulate) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", Engine(h, "0.5"));
  ASSERT_TRUE(h.StartFleetd(Env()).ok()) << h.FleetdLog();
  std::vector<pid_t> seen;
  // Three runs, each forking a grandchild: each is gone after its run ends.
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        pid_t now = h.ReadPid("grandchild.pid");
        if (now > 0 && (seen.empty() || seen.back() != now)) seen.push_back(now);
        return seen.size() >= 4;
      },
      absl::Seconds(30)))
      << h.FleetdLog();
  for (size_t i = 0; i + 1 < seen.size(); ++i) {
    EXPECT_TRUE(FleetHarness::WaitUntil([&] { return !FleetHarness::ProcessAlive(seen[i]); },
                                        absl::Seconds(5)))
        << "grandchild of run " << i << " (pid " << seen[i] << ") outlived it";
  }
}

INSTANTIATE_TEST_SUITE_P(CgroupsOrSubreaper, OrphansTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Cgroups" : "Subreaper";
                         });

}  // namespace
}  // namespace fleet::testing
