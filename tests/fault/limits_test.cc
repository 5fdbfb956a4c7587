// Fault: the machine's limits are used up around fleetd. With no inotify
// instance left (fs.inotify.max_user_instances; injected with strace so the
// rest of the machine is untouched), fleetd and its pipe keeper still start,
// say that they poll, and what inotify would have told them still arrives:
// a metrics file trips its kill condition, the stop flag stops fleetd.
// Without clone3 (a container's seccomp profile answers ENOSYS, as Docker's
// does), children are started as they are with it.
#include <signal.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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
  h.set_fleetd_wrapper({"strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=inotify_init1", "-e",
                        "inject=inotify_init1:error=EMFILE"});
  h.WriteFile("fleet.yaml",
              FleetYaml(absl::StrCat("  - name: bot\n    command: [\"", FleetHarness::ChildPath(),
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
      [&] { return h.Instance("bot/0").state() == ctl::INSTANCE_STATE_KILLED; }, absl::Seconds(5)))
      << h.FleetdLog();
  EXPECT_EQ(h.Instance("calm/0").restarts(), 0u);

  h.WriteFile("run/stop", "");
  EXPECT_EQ(h.WaitFleetdExit(absl::Seconds(15)), 0) << h.FleetdLog();
}

// The unified-hierarchy cgroup of a process ("0::PATH" in /proc/PID/cgroup).
std::string UnifiedCgroupOf(pid_t pid) {
  for (absl::string_view line :
       absl::StrSplit(FleetHarness::FileText(absl::StrCat("/proc/", pid, "/cgroup")), '\n')) {
    if (absl::StartsWith(line, "0::")) return std::string(line.substr(3));
  }
  return "";
}

TEST(LimitsTest, WithoutClone3ChildrenGetTheOriginalLimitTheirGroupAndTheirCgroup) {
  if (!StraceWorks()) GTEST_SKIP() << "strace is not installed or cannot trace here";
  FleetHarness h;
  h.set_fleetd_wrapper({"prlimit", "--nofile=200:300", "--", "strace", "-f", "-qq", "-o",
                        "/dev/null", "-e", "trace=clone3", "-e", "inject=clone3:error=ENOSYS"});
  h.WriteFile("fleet.yaml",
              FleetYaml(absl::StrCat("  - name: w\n    command: [\"", FleetHarness::ChildPath(),
                                     "\"]\n    replicas: 2\n    min_uptime: 100ms\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_THAT(AwaitHealed(h, {"w/0", "w/1"}, absl::Seconds(15)), ::testing::IsEmpty())
      << h.FleetdLog();
  EXPECT_THAT(h.FleetdLog(), HasSubstr("descriptor limit raised from 200 to 300"));
  for (const char* id : {"w/0", "w/1"}) {
    const pid_t pid = h.Instance(id).pid();
    ASSERT_GT(pid, 0) << id;
    EXPECT_THAT(FleetHarness::FileText(absl::StrCat("/proc/", pid, "/limits")),
                ::testing::ContainsRegex("Max open files +200 +300"))
        << id;
    EXPECT_EQ(getpgid(pid), pid) << id << " leads its own process group";
    // Born in (or moved before exec to) a leaf of its own, where fleetd
    // uses cgroups here.
    if (absl::StrContains(h.FleetdLog(), "each instance runs in its own cgroup")) {
      EXPECT_THAT(UnifiedCgroupOf(pid), HasSubstr("/run-")) << id;
    }
  }
  // Restarts take the same path.
  const pid_t first = h.Instance("w/0").pid();
  ASSERT_EQ(kill(first, SIGKILL), 0);
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        const ctl::InstanceStatus s = h.Instance("w/0");
        return s.state() == ctl::INSTANCE_STATE_RUNNING && s.pid() != first;
      },
      absl::Seconds(10)))
      << h.FleetdLog();
  EXPECT_THAT(FleetHarness::FileText(absl::StrCat("/proc/", h.Instance("w/0").pid(), "/limits")),
              ::testing::ContainsRegex("Max open files +200 +300"));
  h.WriteFile("run/stop", "");
  EXPECT_EQ(h.WaitFleetdExit(absl::Seconds(15)), 0) << h.FleetdLog();
}

}  // namespace
}  // namespace fleet::testing
