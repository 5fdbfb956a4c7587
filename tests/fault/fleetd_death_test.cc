// Fault: fleetd is killed with SIGKILL — in a quiet fleet, in the middle of
// a restart burst, and while workers' commits are being synced — and
// started again. Afterwards every engine runs exactly once, nothing ran
// twice in between, and no commit a worker made is lost.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fault/invariants.h"
#include "tests/integration/fleet_harness.h"
#include "tests/integration/git_remote.h"

namespace fleet::testing {
namespace {

using ::testing::IsEmpty;
namespace fs = std::filesystem;

void KillFleetd(FleetHarness& h) {
  ASSERT_EQ(kill(h.fleetd_pid(), SIGKILL), 0);
  ASSERT_EQ(h.WaitFleetdExit(absl::Seconds(10)), 128 + SIGKILL);
}

TEST(FleetdDeathTest, MidRunTheFleetIsTakenBackAndOnlyTheDeadRestarted) {
  FleetHarness h;
  h.WriteFile("fleet.yaml",
              FleetYaml(absl::StrCat("  - name: w\n    command: [\"", FleetHarness::ChildPath(),
                                     "\"]\n    replicas: 4\n    min_uptime: 100ms\n"
                                     "  - name: s\n    shell: 'sleep 1000'\n    replicas: 2\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  std::vector<std::string> ids = Ids("w", 4);
  for (const std::string& id : Ids("s", 2)) ids.push_back(id);
  ASSERT_THAT(AwaitHealed(h, ids, absl::Seconds(15)), IsEmpty());
  std::map<std::string, pid_t> before;
  for (const std::string& id : ids) before[id] = h.Instance(id).pid();

  KillFleetd(h);
  ASSERT_EQ(kill(before["w/1"], SIGKILL), 0);  // Dies while nobody watches.
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();

  EXPECT_THAT(AwaitHealed(h, ids, absl::Seconds(15)), IsEmpty()) << h.FleetdLog();
  for (const std::string& id : ids) {
    if (id == "w/1") {
      EXPECT_NE(h.Instance(id).pid(), before[id]);
    } else {
      EXPECT_EQ(h.Instance(id).pid(), before[id]) << id;  // Adopted, not restarted.
      EXPECT_EQ(h.Instance(id).restarts(), 0u) << id;
    }
  }
}

TEST(FleetdDeathTest, DuringARestartBurstNoInstanceEverRunsTwice) {
  FleetHarness h;
  // Each run lives 300ms until the file `calm` exists; runs started after
  // that stay up.
  h.WriteFile("fleet.yaml",
              FleetYaml("  - name: flap\n    replicas: 20\n    shell: 'test -e calm && exec sleep "
                        "1000; sleep 0.3'\n    min_uptime: 100ms\n    backoff: {initial: 50ms, "
                        "max: 100ms}\n    crash_loop: {max_failures: 0}\n"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  const std::vector<std::string> ids = Ids("flap", 20);
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        uint32_t restarts = 0;
        for (const std::string& id : ids) restarts += h.Instance(id).restarts();
        return restarts >= 40;
      },
      absl::Seconds(30)));
  KillFleetd(h);
  absl::SleepFor(absl::Milliseconds(500));  // Runs end meanwhile.
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();

  // Sampled through the burst that follows: never two copies of one.
  const absl::Time end = absl::Now() + absl::Seconds(3);
  int samples = 0;
  while (absl::Now() < end) {
    for (int i = 0; i < 20; ++i) {
      std::vector<pid_t> copies = CopiesOf(h.run_dir(), "flap", i);
      ASSERT_LE(copies.size(), 1u) << "flap/" << i << " runs twice";
    }
    ++samples;
    absl::SleepFor(absl::Milliseconds(30));
  }
  h.WriteFile("calm", "");
  EXPECT_THAT(AwaitHealed(h, ids, absl::Seconds(20)), IsEmpty()) << h.FleetdLog();
  printf("restart burst: %d samples of 20 instances after fleetd's restart, never two copies\n",
         samples);
}

// fleetd killed at its N-th rename (a record, a run history line, the pid
// file) while it restarts instances: wherever that lands between a spawn
// and the record of it, the next fleetd knows every process the dead one
// started, and no instance ever has two copies.
TEST(FleetdDeathTest, KilledAtAnyRenameTheNextFleetdRunsEachInstanceOnce) {
  if (!StraceWorks()) GTEST_SKIP() << "strace is not installed or cannot trace here";
  for (int n : {2, 4, 6, 8, 10, 12}) {
    SCOPED_TRACE(absl::StrCat("killed at rename #", n));
    FleetHarness h;
    h.WriteFile("fleet.yaml", FleetYaml("  - name: a\n    replicas: 3\n    shell: 'exec sleep 1000'\n"
                                        "    backoff: {initial: 10ms, max: 20ms}\n"));
    const std::string renames = "rename,renameat,renameat2";
    h.set_fleetd_wrapper({"strace", "-f", "-qq", "-o", "/dev/null", "-b", "execve", "-e",
                          absl::StrCat("trace=", renames), "-e",
                          absl::StrCat("inject=", renames, ":signal=SIGKILL:when=", n)});
    // It may die before it is up: that is one of the instants tried.
    (void)h.StartFleetd();
    FleetHarness::WaitUntil(
        [&] {
          if (!FleetHarness::ProcessAlive(h.fleetd_pid())) return true;
          h.Fleetctl({"restart", "a/0", "a/1", "a/2"});
          return false;
        },
        absl::Seconds(20));
    const int code = h.WaitFleetdExit(absl::Seconds(10));
    ASSERT_NE(code, -1) << "fleetd under strace did not die at rename #" << n;
    h.set_fleetd_wrapper({});
    ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
    const absl::Time end = absl::Now() + absl::Seconds(1);
    while (absl::Now() < end) {
      for (int i = 0; i < 3; ++i) {
        ASSERT_LE(CopiesOf(h.run_dir(), "a", i).size(), 1u) << "a/" << i << " runs twice\n"
                                                           << h.FleetdLog();
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    EXPECT_THAT(AwaitHealed(h, Ids("a", 3), absl::Seconds(15)), IsEmpty()) << h.FleetdLog();
  }
}

TEST(FleetdDeathTest, DuringSyncsNoCommitIsLostAndNoLockIsLeft) {
  FleetHarness h;
  const std::string remote_path = InitBareRemote(h.dir());
  // Each run appends a line to its own log and rewrites its own JSON file
  // (through a temp file); the test's tally counts the runs that finished.
  h.WriteFile("worker.sh", R"SH(set -e
trap '' TERM
d="$FLEET_STATE_DIR"; i="$FLEET_INSTANCE"
mkdir -p "$d/runs"
echo "w$i $(date +%s%N)" >> "$d/runs/w$i.txt"
n=$(wc -l < "$d/runs/w$i.txt")
printf '{"runs": %d}\n' "$n" > "$d/book$i.json.tmp"
mv "$d/book$i.json.tmp" "$d/book$i.json"
echo x >> "tally$i"
)SH");
  h.WriteFile("fleet.yaml", absl::StrCat("name: it\nrun_dir: run\nstate:\n  remote: remote.git\n",
                                         "engines:\n  - name: w\n    replicas: 3\n"
                                         "    state: true\n    command: [sh, worker.sh]\n"
                                         "    cycle: {interval: 100ms, timeout: 30s}\n"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  for (int kill_round = 0; kill_round < 4; ++kill_round) {
    absl::SleepFor(absl::Milliseconds(1200 + 170 * kill_round));
    KillFleetd(h);
    ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  }
  absl::SleepFor(absl::Seconds(2));
  const std::string events = h.Fleetctl({"events", "-n", "300"}).out;
  CommandResult down = h.Fleetctl({"shutdown"});
  ASSERT_EQ(down.exit_code, 0) << down.err;
  ASSERT_EQ(h.WaitFleetdExit(absl::Seconds(60)), 0) << h.FleetdLog();

  Remote remote(remote_path);
  std::map<std::string, std::string> files = remote.Files();
  for (int i = 0; i < 3; ++i) {
    const std::string key = absl::StrCat("w", i);
    const std::string local =
        FleetHarness::FileText(absl::StrCat(h.run_dir(), "/state/w.", i, "/runs/w", i, ".txt"));
    const std::string tally = FleetHarness::FileText(absl::StrCat(h.dir(), "/tally", i));
    EXPECT_GT(tally.size(), 0u) << key;
    // Every finished run's line reached the remote.
    EXPECT_EQ(files[absl::StrCat("runs/w", i, ".txt")], local) << key << "\n"
                                                               << events << h.FleetdLog();
    EXPECT_GE(std::count(local.begin(), local.end(), '\n'),
              std::count(tally.begin(), tally.end(), '\n'))
        << key << "\n"
        << events << h.FleetdLog();
  }
  for (const auto& [path, content] : files) {
    if (path.size() > 5 && path.substr(path.size() - 5) == ".json") {
      EXPECT_FALSE(content.empty()) << path;
      EXPECT_EQ(content.find("<<<<<<<"), std::string::npos) << path;
    }
  }
  EXPECT_THAT(BadJsonFiles(h.run_dir() + "/state"), IsEmpty());
  EXPECT_THAT(LockFiles(h.run_dir() + "/state"), IsEmpty());
  EXPECT_THAT(LockFiles(remote_path), IsEmpty());
}

}  // namespace
}  // namespace fleet::testing
