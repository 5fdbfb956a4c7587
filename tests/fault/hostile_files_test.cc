// Faults a worker can plant: files in the run dir that are not what fleetd
// expects there (a FIFO, which blocks a plain open() forever; a symlink to
// /dev/zero, which never ends; a symlink to a file the worker may not read).
// fleetd must go on supervising (status answers, a killed worker comes
// back), fleetctl must not hang, and nothing behind a symlink is copied.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fault/invariants.h"
#include "tests/integration/fleet_harness.h"

namespace fleet::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
namespace fs = std::filesystem;

// fleetctl with a hard deadline of its own, so a hang fails the test
// instead of stalling it (exit 124 from timeout(1)).
CommandResult Bounded(const FleetHarness& h, std::vector<std::string> args) {
  std::vector<std::string> argv = {"timeout", "10", FleetHarness::FleetctlPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  return h.Run(argv);
}

TEST(HostileFilesTest, BusFilesAWorkerPlantsNeverStallFleetdOrFleetctl) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml("  - name: idle\n    capabilities: [llm]\n"
                                      "    shell: 'exec sleep 1000'\n    backoff: {initial: 10ms}\n"));
  h.WriteFile("goal.yaml", "tasks:\n  - {id: a, capability: llm}\n");
  h.WriteFile("secret", "the first line of a private file\n");
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_EQ(h.Fleetctl({"bus", "submit", h.dir() + "/goal.yaml", "--run", "r"}).exit_code, 0);
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return fs::exists(h.run_dir() + "/bus/new/llm/r~a~1.json"); }, absl::Seconds(10)));

  const std::string results = h.run_dir() + "/bus/results/";
  ASSERT_EQ(mkfifo((results + "r~b~1.json").c_str(), 0600), 0);
  fs::create_symlink("/dev/zero", results + "r~c~1.json");
  fs::create_symlink(h.dir() + "/secret", results + "r~d~1.json");
  ASSERT_EQ(mkfifo((h.run_dir() + "/bus/new/llm/r~f~1.json").c_str(), 0600), 0);

  // The planted results are quarantined with why; fleetd stays responsive.
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return fs::is_empty(results); }, absl::Seconds(10)))
      << Bounded(h, {"events", "-n", "40"}).out << h.FleetdLog();
  const std::string events = Bounded(h, {"events", "-n", "100"}).out;
  EXPECT_THAT(events, HasSubstr("r~b~1.json is not a regular file"));
  EXPECT_THAT(events, HasSubstr("r~c~1.json is a symlink"));
  EXPECT_THAT(events, HasSubstr("r~d~1.json is a symlink"));
  for (const auto& entry : fs::directory_iterator(h.run_dir() + "/bus/quarantine")) {
    // The planted files themselves are moved aside as they are: read only
    // what fleetd wrote about them.
    if (entry.path().extension() != ".why") continue;
    EXPECT_THAT(FleetHarness::FileText(entry.path()), Not(HasSubstr("private file")))
        << entry.path();
  }

  // Supervision goes on: a killed worker is started again.
  const pid_t before = h.Instance("idle/0").pid();
  ASSERT_GT(before, 0);
  ASSERT_EQ(kill(before, SIGKILL), 0);
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        const pid_t now = h.Instance("idle/0").pid();
        return now > 0 && now != before;
      },
      absl::Seconds(10)))
      << h.FleetdLog();

  // A worker claiming through the planted FIFO gets an answer, not a hang:
  // the real task, or an error about the FIFO.
  for (int i = 0; i < 3; ++i) {
    CommandResult claim = Bounded(h, {"bus", "claim", "--capability", "llm"});
    EXPECT_NE(claim.exit_code, 124) << "fleetctl bus claim hung on a FIFO";
  }
  EXPECT_THAT(AwaitHealed(h, {"idle/0"}, absl::Seconds(10)), IsEmpty());
}

}  // namespace
}  // namespace fleet::testing
