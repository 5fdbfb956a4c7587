// Faults a worker can plant: files in the run dir that are not what fleetd
// expects there (a FIFO, which blocks a plain open() forever; a symlink to
// /dev/zero, which never ends; a symlink to a file the worker may not read).
// fleetd must go on supervising (status answers, a killed worker comes
// back), fleetctl must not hang, and nothing behind a symlink is copied.
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
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
  // Bytes that are not UTF-8 in a result: quarantined, and the event that
  // says so must not break `fleetctl events` for everything after it.
  std::ofstream(results + "r~e~1.json")
      << "{\"run\": \"r\", \"task\": \"a\", \"attempt\": 1, \"ok\": false, \"error\": \"\xff\"}";
  ASSERT_EQ(mkfifo((h.run_dir() + "/bus/new/llm/r~f~1.json").c_str(), 0600), 0);

  // The planted results are quarantined with why; fleetd stays responsive.
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return fs::is_empty(results); }, absl::Seconds(10)))
      << Bounded(h, {"events", "-n", "40"}).out << h.FleetdLog();
  const CommandResult listed = Bounded(h, {"events", "-n", "100"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  const std::string events = listed.out;
  EXPECT_THAT(events, HasSubstr("r~b~1.json is not a regular file"));
  EXPECT_THAT(events, HasSubstr("r~c~1.json is a symlink"));
  EXPECT_THAT(events, HasSubstr("r~d~1.json is a symlink"));
  EXPECT_THAT(events, HasSubstr("r~e~1.json"));
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

// A run dir another user prepared (or can write to): a root fleetd would
// append workers' output through logs/w.0.log -> a root-only file and chmod
// the directory ctl points at. It refuses to start instead, saying why, and
// touches neither.
TEST(HostileFilesTest, ARunDirAnotherUserControlsIsRefusedAndNothingBehindItIsTouched) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to make a directory of another uid";
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml("  - name: w\n    shell: 'echo planted-output; exec sleep 1000'\n"));
  h.WriteFile("root-only", "untouched\n");
  ASSERT_EQ(::chmod((h.dir() + "/root-only").c_str(), 0600), 0);
  fs::create_directories(h.dir() + "/elsewhere");
  ASSERT_EQ(::chmod((h.dir() + "/elsewhere").c_str(), 0755), 0);
  fs::create_directories(h.run_dir() + "/logs");
  fs::create_symlink(h.dir() + "/root-only", h.run_dir() + "/logs/w.0.log");
  fs::create_symlink(h.dir() + "/elsewhere", h.run_dir() + "/ctl");
  ASSERT_EQ(::chown(h.run_dir().c_str(), 65534, 65534), 0);
  ASSERT_EQ(::chown((h.run_dir() + "/logs").c_str(), 65534, 65534), 0);

  auto refused = [&](const std::string& why) {
    ::unlink((h.dir() + "/refused.log").c_str());
    const pid_t refused = h.SpawnFleetd("refused.log");
    int status = 0;
    ASSERT_EQ(waitpid(refused, &status, 0), refused);
    EXPECT_EQ(WEXITSTATUS(status), 1);
    EXPECT_THAT(FleetHarness::FileText(h.dir() + "/refused.log"), HasSubstr(why));
    EXPECT_EQ(FleetHarness::FileText(h.dir() + "/root-only"), "untouched\n");
    EXPECT_EQ(fs::status(h.dir() + "/elsewhere").permissions(), fs::perms(0755));
  };
  refused(h.run_dir() + " belongs to uid 65534, not to fleetd's uid 0");
  // Ours again but writable by others.
  ASSERT_EQ(::chown(h.run_dir().c_str(), 0, 0), 0);
  ASSERT_EQ(::chmod(h.run_dir().c_str(), 0777), 0);
  refused("is writable by its group or by others");
  // Private, but a subdirectory is another user's, then a symlink.
  ASSERT_EQ(::chmod(h.run_dir().c_str(), 0700), 0);
  refused(h.run_dir() + "/ctl is a symlink");
  fs::remove(h.run_dir() + "/ctl");
  refused(h.run_dir() + "/logs belongs to uid 65534");
  ASSERT_EQ(::chown((h.run_dir() + "/logs").c_str(), 0, 0), 0);
  // Now it is fleetd's: it starts, and the planted log symlink is still not
  // written through.
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return h.Instance("w/0").pid() > 0; },
                                      absl::Seconds(10)));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(FleetHarness::FileText(h.dir() + "/root-only"), "untouched\n");
  EXPECT_THAT(h.Instance("w/0").log_error(), HasSubstr("is a symlink"));
}

}  // namespace
}  // namespace fleet::testing
