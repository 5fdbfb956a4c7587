// `fleetd sync-state`: one work tree's Git sync without a fleetd (what an
// exported pod's init container and sidecar run), against a real bare
// remote, looked at through libgit2.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/fleet_harness.h"
#include "tests/integration/git_remote.h"

namespace fleet::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class SyncStateTest : public ::testing::Test {
 protected:
  SyncStateTest() : remote_path_(InitBareRemote(h_.dir())), remote_(remote_path_) {}

  // `fleetd sync-state OP --dir DIR --remote REMOTE ARGS...` as ENGINE/N.
  std::vector<std::string> Argv(const std::string& op, const std::string& dir,
                                std::vector<std::string> args = {},
                                const std::string& author = "worker/0") const {
    std::vector<std::string> argv = {FleetHarness::FleetdPath(),
                                     "sync-state",
                                     op,
                                     "--dir",
                                     h_.dir() + "/" + dir,
                                     "--remote",
                                     remote_path_,
                                     "--author",
                                     author};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  CommandResult Sync(const std::string& op, const std::string& dir,
                     std::vector<std::string> args = {},
                     const std::string& author = "worker/0") const {
    return h_.Run(Argv(op, dir, std::move(args), author));
  }
  void Write(const std::string& path, const std::string& text) const {
    std::ofstream(h_.dir() + "/" + path) << text;
  }

  FleetHarness h_;
  std::string remote_path_;
  Remote remote_;
};

TEST_F(SyncStateTest, PullClonesAndPublishPushesAsTheInstanceResolvingByRule) {
  CommandResult first = Sync("pull", "a/tree");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  Write("a/tree/world.json", R"({"a": 1})");
  CommandResult pushed = Sync("publish", "a/tree", {"--message", "a's first"});
  ASSERT_EQ(pushed.exit_code, 0) << pushed.err;
  EXPECT_THAT(pushed.err, HasSubstr("pushed "));
  EXPECT_EQ(remote_.CommitsByAuthor()["worker/0"], 1);

  // A second pod's tree, which changes the same file before it sees a's.
  ASSERT_EQ(Sync("pull", "b/tree", {}, "worker/1").exit_code, 0);
  EXPECT_EQ(h_.FileText(h_.dir() + "/b/tree/world.json"), R"({"a": 1})");
  Write("a/tree/world.json", R"({"a": 2})");
  ASSERT_EQ(Sync("publish", "a/tree").exit_code, 0);
  Write("b/tree/world.json", R"({"a": 1, "b": 1})");
  CommandResult merged =
      Sync("publish", "b/tree", {"--rule", "*.json=json", "--catch-up", "merge"}, "worker/1");
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  EXPECT_THAT(merged.err, HasSubstr("resolved world.json by rule (json")) << merged.err;
  const std::string world = remote_.File("world.json");
  EXPECT_THAT(world, HasSubstr("\"a\": 2"));
  EXPECT_THAT(world, HasSubstr("\"b\": 1"));
  EXPECT_GE(remote_.CommitsByAuthor()["worker/1"], 1);
}

TEST_F(SyncStateTest, AConflictNoRuleResolvesFailsAndKeepsTheTreeWithoutMarkers) {
  ASSERT_EQ(Sync("pull", "a/tree").exit_code, 0);
  ASSERT_EQ(Sync("pull", "b/tree", {}, "worker/1").exit_code, 0);
  Write("a/tree/notes.txt", "from a\n");
  ASSERT_EQ(Sync("publish", "a/tree").exit_code, 0);
  Write("b/tree/notes.txt", "from b\n");
  CommandResult refused = Sync("publish", "b/tree", {}, "worker/1");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("conflict in notes.txt"));
  EXPECT_EQ(h_.FileText(h_.dir() + "/b/tree/notes.txt"), "from b\n");
  EXPECT_EQ(remote_.File("notes.txt"), "from a\n");
  // A pull keeps the tree as it was, says so, and lets the worker go on.
  CommandResult pull = Sync("pull", "b/tree", {}, "worker/1");
  EXPECT_EQ(pull.exit_code, 0) << pull.err;
  EXPECT_THAT(pull.err, HasSubstr("goes on from the work tree's last state"));
  EXPECT_THAT(h_.FileText(h_.dir() + "/b/tree/notes.txt"), Not(HasSubstr("<<<<<<<")));
}

TEST_F(SyncStateTest, WatchPublishesEveryPeriodAndOnceMoreAtSigterm) {
  ASSERT_EQ(Sync("pull", "a/tree").exit_code, 0);
  const pid_t watch = FleetHarness::Spawn(Argv("watch", "a/tree", {"--every", "1s"}));
  Write("a/tree/one.txt", "1\n");
  ASSERT_TRUE(
      FleetHarness::WaitUntil([&] { return remote_.File("one.txt") == "1\n"; }, absl::Seconds(20)));
  // Written right before the stop: the watch's last publish carries it.
  Write("a/tree/two.txt", "2\n");
  kill(watch, SIGTERM);
  EXPECT_EQ(FleetHarness::WaitExit(watch), 0);
  EXPECT_EQ(remote_.File("two.txt"), "2\n");
}

TEST_F(SyncStateTest, APullWithoutATreeWaitsForTheRemoteAndOneWithATreeGoesOn) {
  const std::string later = h_.dir() + "/later/remote.git";
  std::vector<std::string> argv = {FleetHarness::FleetdPath(), "sync-state", "pull", "--dir",
                                   h_.dir() + "/c/tree",       "--remote",   later};
  const pid_t pull = FleetHarness::Spawn(argv);
  absl::SleepFor(absl::Milliseconds(500));
  ASSERT_EQ(InitBareRemote(h_.dir() + "/later"), later);
  EXPECT_EQ(FleetHarness::WaitExit(pull), 0);  // The retry 2s later finds it.
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return access((h_.dir() + "/c/tree/.git").c_str(), F_OK) == 0; }, absl::Seconds(1)));

  // The remote gone: the worker goes on from its tree.
  ASSERT_EQ(rename(later.c_str(), (later + ".gone").c_str()), 0);
  CommandResult gone = h_.Run(argv);
  EXPECT_EQ(gone.exit_code, 0) << gone.err;
  EXPECT_THAT(gone.err, HasSubstr("pull failed"));
  EXPECT_THAT(gone.err, HasSubstr("goes on from the work tree's last state"));
}

TEST_F(SyncStateTest, OneCallAtATimeOnATreeAndTheLockIsNeverFollowedThroughASymlink) {
  ASSERT_EQ(Sync("pull", "a/tree").exit_code, 0);
  Write("a/tree/held.txt", "x\n");
  const std::string lock = h_.dir() + "/a/tree.sync-lock";
  const int fd = open(lock.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_EX), 0);
  const pid_t publish = FleetHarness::Spawn(Argv("publish", "a/tree"));
  absl::SleepFor(absl::Milliseconds(800));
  EXPECT_EQ(remote_.File("held.txt"), "");  // Waits for the lock.
  close(fd);
  EXPECT_EQ(FleetHarness::WaitExit(publish), 0);
  EXPECT_EQ(remote_.File("held.txt"), "x\n");

  ASSERT_EQ(unlink(lock.c_str()), 0);
  ASSERT_EQ(symlink((h_.dir() + "/elsewhere").c_str(), lock.c_str()), 0);
  CommandResult refused = Sync("publish", "a/tree");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("sync-lock"));
  EXPECT_NE(access((h_.dir() + "/elsewhere").c_str(), F_OK), 0);
}

TEST_F(SyncStateTest, BadArgumentsAreRefusedBeforeAnythingIsTouched) {
  CommandResult no_remote =
      h_.Run({FleetHarness::FleetdPath(), "sync-state", "pull", "--dir", h_.dir() + "/x"});
  EXPECT_EQ(no_remote.exit_code, 2);
  EXPECT_THAT(no_remote.err, HasSubstr("--remote URL is required"));
  CommandResult bad_rule = Sync("publish", "x", {"--rule", "*.json=jsonn"});
  EXPECT_EQ(bad_rule.exit_code, 2);
  EXPECT_THAT(bad_rule.err, HasSubstr("not GLOB=STRATEGY"));
  CommandResult bad_every = Sync("watch", "x", {"--every", "soon"});
  EXPECT_EQ(bad_every.exit_code, 2);
  EXPECT_THAT(bad_every.err, HasSubstr("not a positive duration"));
  EXPECT_NE(access((h_.dir() + "/x").c_str(), F_OK), 0);
}

}  // namespace
}  // namespace fleet::testing
