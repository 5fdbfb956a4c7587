// Faults in files: a worker truncates a protected file (while fleetd is down,
// so only the next fleetd can notice), a worker writes malformed JSON into
// shared state while others commit, and a lock's owner is killed while it
// holds it. Afterwards: the good version is back, the remote never saw a bad
// one, no lock is stale, and the fleet ran on untouched.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/fault/invariants.h"
#include "tests/integration/fleet_harness.h"
#include "tests/integration/git_remote.h"

namespace fleet::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
namespace fs = std::filesystem;

bool NonEmptyDir(const std::string& dir) {
  std::error_code ec;
  return fs::exists(dir, ec) && !fs::is_empty(dir, ec);
}

std::string Events(const FleetHarness& h) { return h.Fleetctl({"events", "-n", "300"}).out; }

TEST(FilesFaultTest, AProtectedFileTruncatedWhileFleetdIsDownIsPutBackByTheNextOne) {
  FleetHarness h;
  fs::create_directories(h.dir() + "/data");
  const std::string good = "{\"cash\": 40, \"positions\": [1, 2]}\n";
  h.WriteFile("clobber.sh", absl::StrCat("printf '%s' '", good, "' > data/book.json\n",
                                         "while [ ! -e go ]; do sleep 0.05; done\n"
                                         ": > data/book.json\nexec sleep 1000\n"));
  h.WriteFile("fleet.yaml",
              "name: it\nrun_dir: run\n"
              "recovery:\n  interval: 300ms\n  protect:\n"
              "    - {path: data/book.json, required_keys: [cash]}\n"
              "engines:\n  - name: w\n    command: [sh, clobber.sh]\n");
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return NonEmptyDir(h.run_dir() + "/recovery/snapshots"); }, absl::Seconds(15)));
  const pid_t worker = h.Instance("w/0").pid();
  ASSERT_EQ(kill(h.fleetd_pid(), SIGKILL), 0);
  ASSERT_EQ(h.WaitFleetdExit(absl::Seconds(10)), 128 + SIGKILL);

  h.WriteFile("go", "");
  const std::string book = h.dir() + "/data/book.json";
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return fs::file_size(book) == 0; }, absl::Seconds(10)));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return FleetHarness::FileText(book) == good; },
                                      absl::Seconds(15)))
      << Events(h);
  EXPECT_THAT(Events(h), HasSubstr("empty; put back"));
  EXPECT_THAT(AwaitHealed(h, {"w/0"}, absl::Seconds(10)), IsEmpty());
  EXPECT_EQ(h.Instance("w/0").pid(), worker);  // Adopted; recovery never touches it.
  EXPECT_EQ(h.Instance("w/0").restarts(), 0u);
}

TEST(FilesFaultTest, MalformedJsonAmongCommittingWorkersNeverReachesTheRemote) {
  FleetHarness h;
  const std::string remote_path = InitBareRemote(h.dir());
  // Every worker rewrites its own book each run; w/0 writes a broken one on
  // every third run.
  h.WriteFile("worker.sh", R"SH(d="$FLEET_STATE_DIR"; i="$FLEET_INSTANCE"
n=$(( $(cat "runs$i" 2>/dev/null || echo 0) + 1 )); echo $n > "runs$i"
if [ "$i" -eq 0 ] && [ $((n % 3)) -eq 0 ]; then
  printf '{"runs": ' > "$d/book$i.json"
else
  printf '{"runs": %d}\n' "$n" > "$d/book$i.json"
fi
)SH");
  h.WriteFile("fleet.yaml",
              "name: it\nrun_dir: run\nstate: {remote: remote.git}\n"
              "recovery:\n  protect:\n    - {path: \"*.json\", state: true}\n"
              "engines:\n  - name: w\n    replicas: 3\n    state: true\n"
              "    command: [sh, worker.sh]\n    cycle: {interval: 150ms}\n");
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return std::atoi(FleetHarness::FileText(h.dir() + "/runs0").c_str()) >= 9; },
      absl::Seconds(30)));
  EXPECT_THAT(Events(h), HasSubstr("state_invalid"));
  CommandResult down = h.Fleetctl({"shutdown"});
  ASSERT_EQ(down.exit_code, 0) << down.err;
  ASSERT_EQ(h.WaitFleetdExit(absl::Seconds(60)), 0) << h.FleetdLog();

  Remote remote(remote_path);
  int versions = 0;
  for (const auto& files : remote.FilesAtEveryCommit()) {
    for (const auto& [path, content] : files) {
      google::protobuf::Value value;
      EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(content, &value).ok())
          << path << " reached the remote as: " << content;
      ++versions;
    }
  }
  EXPECT_GT(versions, 9);
  EXPECT_THAT(BadJsonFiles(h.run_dir() + "/state"), IsEmpty());
}

TEST(FilesFaultTest, ALockWhoseOwnerIsKilledIsBrokenWhileTheFleetRuns) {
  FleetHarness h;
  h.WriteFile("fleet.yaml",
              "name: it\nrun_dir: run\nrecovery: {interval: 300ms}\n"
              "engines:\n  - name: w\n    shell: 'exec sleep 1000'\n");
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  pid_t owner = fork();
  if (owner == 0) {
    setpgid(0, 0);
    execl(FleetHarness::FleetctlPath().c_str(), "fleetctl", "--run-dir", h.run_dir().c_str(),
          "lock", "ledger", "--", "sleep", "1000", nullptr);
    _exit(127);
  }
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return fs::exists(h.run_dir() + "/locks/ledger/owner"); }, absl::Seconds(10)));
  ASSERT_EQ(kill(-owner, SIGKILL), 0);  // The holder and its command, mid-hold.
  waitpid(owner, nullptr, 0);
  ASSERT_TRUE(fs::exists(h.run_dir() + "/locks/ledger"));
  EXPECT_THAT(AwaitHealed(h, {"w/0"}, absl::Seconds(10)), IsEmpty());
  EXPECT_FALSE(fs::exists(h.run_dir() + "/locks/ledger"));
  EXPECT_THAT(Events(h), HasSubstr("lock_broken"));
  EXPECT_EQ(h.Fleetctl({"--run-dir", h.run_dir(), "lock", "ledger", "--wait", "1s", "--", "true"})
                .exit_code,
            0);
}

}  // namespace
}  // namespace fleet::testing
