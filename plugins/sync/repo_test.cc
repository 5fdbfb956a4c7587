#include "plugins/sync/repo.h"

#include <fcntl.h>
#include <git2.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "plugins/sync/repo_fixture.h"

namespace fleet::plugins::sync {
namespace {

using ::testing::ElementsAre;

TEST_F(RepoTest, FirstCommitStartsTheBranchAndOthersFastForward) {
  auto a = Clone("a");
  auto b = Clone("b");
  EXPECT_EQ(a->Head(), "");
  Write(dir_ + "/a/state.json", "{\"n\": 1}\n");
  CommitAndPush(a.get(), "a: first");
  PullResult pulled;
  ASSERT_TRUE(b->Pull(&pulled).ok());
  EXPECT_EQ(pulled.kind, PullResult::kFastForward);
  EXPECT_EQ(Read(dir_ + "/b/state.json"), "{\"n\": 1}\n");
  EXPECT_EQ(a->Head(), b->Head());
  ASSERT_TRUE(b->Pull(&pulled).ok());
  EXPECT_EQ(pulled.kind, PullResult::kUpToDate);
  // A third instance joining later clones straight onto the branch.
  auto c = Clone("c");
  EXPECT_EQ(Read(dir_ + "/c/state.json"), "{\"n\": 1}\n");
}

TEST_F(RepoTest, NothingToCommitIsNotACommit) {
  auto a = Clone("a");
  bool committed = true;
  ASSERT_TRUE(a->CommitAll("t", "t@l", "empty", &committed).ok());
  EXPECT_FALSE(committed);
  Write(dir_ + "/a/f", "x");
  ASSERT_TRUE(a->CommitAll("t", "t@l", "one", &committed).ok());
  EXPECT_TRUE(committed);
  ASSERT_TRUE(a->CommitAll("t", "t@l", "again", &committed).ok());
  EXPECT_FALSE(committed);
  EXPECT_EQ(a->Ahead(), 1);
}

TEST_F(RepoTest, RejectedPushThenRebaseKeepsBothWrites) {
  auto a = Clone("a");
  Write(dir_ + "/a/base", "base\n");
  CommitAndPush(a.get(), "base");
  auto b = Clone("b");
  Write(dir_ + "/a/from_a", "a\n");
  CommitAndPush(a.get(), "a writes");
  Write(dir_ + "/b/from_b", "b\n");
  bool committed = false, rejected = false;
  ASSERT_TRUE(b->CommitAll("b", "b@l", "b writes", &committed).ok());
  ASSERT_TRUE(b->Push(&rejected).ok());
  EXPECT_TRUE(rejected);  // a pushed first.
  PullResult pulled;
  ASSERT_TRUE(b->Pull(&pulled).ok());
  EXPECT_EQ(pulled.kind, PullResult::kRebased);
  EXPECT_EQ(pulled.rebased_commits, 1);
  ASSERT_TRUE(b->Push(&rejected).ok());
  EXPECT_FALSE(rejected);
  EXPECT_EQ(b->Ahead(), 0);
  ASSERT_TRUE(a->Pull(&pulled).ok());
  EXPECT_EQ(Read(dir_ + "/a/from_b"), "b\n");
  EXPECT_EQ(Read(dir_ + "/a/from_a"), "a\n");
}

TEST_F(RepoTest, AConflictIsReportedAndNothingIsLost) {
  auto a = Clone("a");
  Write(dir_ + "/a/ledger.txt", "start\n");
  CommitAndPush(a.get(), "start");
  auto b = Clone("b");
  Write(dir_ + "/a/ledger.txt", "start\na's line\n");
  CommitAndPush(a.get(), "a");
  Write(dir_ + "/b/ledger.txt", "start\nb's line\n");
  bool committed = false;
  ASSERT_TRUE(b->CommitAll("b", "b@l", "b", &committed).ok());
  const std::string before = b->Head();
  PullResult pulled;
  ASSERT_TRUE(b->Pull(&pulled).ok());
  EXPECT_EQ(pulled.kind, PullResult::kConflict);
  EXPECT_THAT(pulled.conflicts, ElementsAre("ledger.txt"));
  EXPECT_EQ(b->Head(), before);                                  // b's commit is still there...
  EXPECT_EQ(Read(dir_ + "/b/ledger.txt"), "start\nb's line\n");  // ...with no markers.
  EXPECT_EQ(b->Ahead(), 1);
}

// a and b both change `path` from `base`; b pulls with `rules`.
TEST_F(RepoTest, AStaleIndexLockIsClearedButAHeldOneIsNot) {
  auto a = Clone("a");
  const std::string lock = dir_ + "/a/.git/index.lock";
  // Held: this process has it open, as a git mid-write would.
  int held = open(lock.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  ASSERT_GE(held, 0);
  Write(dir_ + "/a/f", "x");
  bool committed = false;
  GitStatus status = a->CommitAll("t", "t@l", "one", &committed);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.error, ::testing::HasSubstr("index.lock"));
  EXPECT_TRUE(std::filesystem::exists(lock));
  // Its owner is gone (killed mid-write): the leftover is cleared.
  close(held);
  status = a->CommitAll("t", "t@l", "one", &committed);
  EXPECT_TRUE(status.ok()) << status.error;
  EXPECT_TRUE(committed);
  EXPECT_FALSE(std::filesystem::exists(lock));
}

TEST_F(RepoTest, AFetchKilledMidRefUpdateDoesNotBlockTheNextPull) {
  auto a = Clone("a");
  Write(dir_ + "/a/f", "x");
  CommitAndPush(a.get(), "one");
  auto b = Clone("b");
  Write(dir_ + "/a/f", "y");
  CommitAndPush(a.get(), "two");
  // What a fetch killed while updating origin/main leaves in b.
  Write(dir_ + "/b/.git/refs/remotes/origin/main.lock", "");
  Write(dir_ + "/b/.git/objects/pack/pack_git2_1234idx.lock", "");
  Write(dir_ + "/b/.git/FETCH_HEAD.lock", "");
  PullResult pulled;
  GitStatus status = b->Pull(&pulled);
  EXPECT_TRUE(status.ok()) << status.error;
  EXPECT_EQ(Read(dir_ + "/b/f"), "y");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/b/.git/refs/remotes/origin/main.lock"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/b/.git/objects/pack/pack_git2_1234idx.lock"));
}

TEST_F(RepoTest, PushersKilledMidPushLeaveNothingThatBlocksTheNext) {
  auto a = Clone("a");
  Write(dir_ + "/a/n", "0");
  CommitAndPush(a.get(), "base");
  // Cloned first: a clone killed half way is the plugin's to rebuild (its
  // damaged-tree path), not what this test is about.
  ASSERT_NE(Clone("killed"), nullptr);
  // Pushers SIGKILLed at every point of their push (a ref lock may be left
  // in the remote, an index.lock in their work tree).
  for (int round = 0; round < 12; ++round) {
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      GitStatus status;
      auto repo = Repo::OpenOrClone(dir_ + "/killed", remote_, "main", &status);
      for (int i = 0; repo != nullptr; ++i) {
        PullResult pulled;
        repo->Pull(&pulled);
        std::ofstream(dir_ + "/killed/n") << round << "." << i;
        bool committed = false, rejected = false;
        repo->CommitAll("k", "k@l", "killed", &committed);
        repo->Push(&rejected);
      }
      _exit(1);
    }
    usleep(20000 + round * 7000);
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
  }
  // The leftovers a killed push can leave, made certain.
  Write(remote_ + "/refs/heads/main.lock", "");
  Write(remote_ + "/objects/pack/pack_git2_6fd76eabe428idx.lock", "");
  Write(remote_ + "/objects/pack/pack_git2_6fd76eabe428", "half a pack");
  PullResult pulled;
  ASSERT_TRUE(a->Pull(&pulled).ok());
  Write(dir_ + "/a/n", "after");
  CommitAndPush(a.get(), "after the kills");
  EXPECT_FALSE(std::filesystem::exists(remote_ + "/refs/heads/main.lock"));
  EXPECT_FALSE(std::filesystem::exists(remote_ + "/objects/pack/pack_git2_6fd76eabe428idx.lock"));
  EXPECT_FALSE(std::filesystem::exists(remote_ + "/objects/pack/pack_git2_6fd76eabe428"));
  GitStatus status;
  auto killed = Repo::OpenOrClone(dir_ + "/killed", remote_, "main", &status);
  ASSERT_NE(killed, nullptr) << status.error;
  // The killed pusher's own tree works again too (its last write conflicts
  // with "after": reported, not blocked by a lock).
  bool committed = false;
  status = killed->CommitAll("k", "k@l", "left over", &committed);
  EXPECT_TRUE(status.ok()) << status.error;
  status = killed->Pull(&pulled);
  EXPECT_TRUE(status.ok()) << status.error;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/killed/.git/index.lock"));
}

TEST_F(RepoTest, MergeModeKeepsLocalCommitsAsTheyWereMade) {
  auto a = Clone("a");
  auto b = Clone("b");
  Write(dir_ + "/a/base.txt", "base\n");
  CommitAndPush(a.get(), "base");
  PullResult pulled;
  ASSERT_TRUE(b->Pull(&pulled).ok());
  Write(dir_ + "/a/log.txt", "from a\n");
  CommitAndPush(a.get(), "a");
  Write(dir_ + "/b/log.txt", "from b\n");
  Write(dir_ + "/b/own.txt", "b\n");
  bool committed = false;
  ASSERT_TRUE(b->CommitAll("b", "b@l", "b", &committed).ok());
  const std::string b_commit = b->Head();
  b->SetMergeInsteadOfRebase(true);
  b->SetMergeRules({{"log.txt", Strategy::kUnion}});
  GitStatus status = b->Pull(&pulled);
  ASSERT_TRUE(status.ok()) << status.error;
  EXPECT_EQ(pulled.kind, PullResult::kMerged);
  EXPECT_THAT(pulled.resolved, ElementsAre("log.txt"));
  EXPECT_EQ(Read(dir_ + "/b/log.txt"), "from a\nfrom b\n");
  EXPECT_EQ(Read(dir_ + "/b/own.txt"), "b\n");
  // b's own commit is kept as it was made (same id), under the merge.
  git_repository* repo = nullptr;
  ASSERT_EQ(git_repository_open(&repo, (dir_ + "/b").c_str()), 0);
  git_oid head_id;
  git_reference_name_to_id(&head_id, repo, "HEAD");
  git_commit* head = nullptr;
  git_commit_lookup(&head, repo, &head_id);
  EXPECT_EQ(git_commit_parentcount(head), 2u);
  char first_parent[GIT_OID_HEXSZ + 1];
  git_oid_tostr(first_parent, sizeof(first_parent), git_commit_parent_id(head, 0));
  EXPECT_EQ(std::string(first_parent), b_commit);
  EXPECT_EQ(git_repository_state(repo), GIT_REPOSITORY_STATE_NONE);
  git_commit_free(head);
  git_repository_free(repo);
  bool rejected = true;
  ASSERT_TRUE(b->Push(&rejected).ok());
  EXPECT_FALSE(rejected);
}

TEST_F(RepoTest, AMergeNoRuleResolvesLeavesEverythingAsItWas) {
  auto a = Clone("a");
  auto b = Clone("b");
  Write(dir_ + "/a/s.json", "{\"n\": 0}\n");
  CommitAndPush(a.get(), "base");
  PullResult pulled;
  ASSERT_TRUE(b->Pull(&pulled).ok());
  Write(dir_ + "/a/s.json", "{\"n\": 1}\n");
  CommitAndPush(a.get(), "a");
  Write(dir_ + "/b/s.json", "{\"n\": 2}\n");
  bool committed = false;
  ASSERT_TRUE(b->CommitAll("b", "b@l", "b", &committed).ok());
  const std::string before = b->Head();
  b->SetMergeInsteadOfRebase(true);
  ASSERT_TRUE(b->Pull(&pulled).ok());
  EXPECT_EQ(pulled.kind, PullResult::kConflict);
  EXPECT_THAT(pulled.conflicts, ElementsAre("s.json"));
  EXPECT_EQ(b->Head(), before);
  EXPECT_EQ(Read(dir_ + "/b/s.json"), "{\"n\": 2}\n");  // No markers, b's version.
  git_repository* repo = nullptr;
  ASSERT_EQ(git_repository_open(&repo, (dir_ + "/b").c_str()), 0);
  EXPECT_EQ(git_repository_state(repo), GIT_REPOSITORY_STATE_NONE);
  git_repository_free(repo);
}

TEST_F(RepoTest, ARebaseLeftHalfDoneIsUndoneAndLaterWritesAreKept) {
  auto a = Clone("a");
  Write(dir_ + "/a/base", "base\n");
  CommitAndPush(a.get(), "base");
  auto b = Clone("b");
  Write(dir_ + "/a/from_a", "a\n");
  CommitAndPush(a.get(), "a writes");
  Write(dir_ + "/b/from_b", "b\n");
  bool committed = false;
  ASSERT_TRUE(b->CommitAll("b", "b@l", "b writes", &committed).ok());
  b.reset();
  {
    // A process starts rebasing b onto a's push and is killed after the
    // first step: the rebase state stays on disk.
    git_repository* raw = nullptr;
    ASSERT_EQ(git_repository_open(&raw, (dir_ + "/b").c_str()), 0);
    git_remote* origin = nullptr;
    ASSERT_EQ(git_remote_lookup(&origin, raw, "origin"), 0);
    ASSERT_EQ(git_remote_fetch(origin, nullptr, nullptr, nullptr), 0);
    git_remote_free(origin);
    git_reference* upstream_ref = nullptr;
    ASSERT_EQ(git_reference_lookup(&upstream_ref, raw, "refs/remotes/origin/main"), 0);
    git_annotated_commit* upstream = nullptr;
    ASSERT_EQ(git_annotated_commit_from_ref(&upstream, raw, upstream_ref), 0);
    git_rebase* rebase = nullptr;
    ASSERT_EQ(git_rebase_init(&rebase, raw, nullptr, upstream, nullptr, nullptr), 0);
    git_rebase_operation* step = nullptr;
    ASSERT_EQ(git_rebase_next(&step, rebase), 0);
    git_rebase_free(rebase);
    git_annotated_commit_free(upstream);
    git_reference_free(upstream_ref);
    EXPECT_NE(git_repository_state(raw), GIT_REPOSITORY_STATE_NONE);
    git_repository_free(raw);
  }
  // A worker that outlived the killed process writes on meanwhile: a new
  // file, and a change to a tracked one (which could as well be a checkout
  // cut mid-write: it is set aside, not committed).
  Write(dir_ + "/b/later", "written during the outage\n");
  Write(dir_ + "/b/from_b", "b, changed during the outage\n");

  b = Clone("b");
  const std::string undone = b->UndoInterruptedOperation();
  EXPECT_THAT(undone, ::testing::HasSubstr("a rebase"));
  EXPECT_THAT(undone, ::testing::HasSubstr("1 new file(s) written since were kept"));
  EXPECT_THAT(undone, ::testing::HasSubstr("1 changed file(s) were set aside in"));
  bool found_aside = false;
  for (const auto& e :
       std::filesystem::recursive_directory_iterator(dir_ + "/b/.git/fleet-undone")) {
    found_aside = found_aside || (e.path().filename() == "from_b" &&
                                  Read(e.path().string()) == "b, changed during the outage\n");
  }
  EXPECT_TRUE(found_aside);
  EXPECT_EQ(b->UndoInterruptedOperation(), "");  // Once.
  EXPECT_EQ(Read(dir_ + "/b/later"), "written during the outage\n");
  EXPECT_EQ(Read(dir_ + "/b/from_b"), "b\n");
  // The next sync goes through as if nothing had happened.
  PullResult pulled;
  ASSERT_TRUE(b->Pull(&pulled).ok());
  CommitAndPush(b.get(), "b: later");
  ASSERT_TRUE(a->Pull(&pulled).ok());
  EXPECT_EQ(Read(dir_ + "/a/from_b"), "b\n");
  EXPECT_EQ(Read(dir_ + "/a/later"), "written during the outage\n");
  EXPECT_EQ(Read(dir_ + "/a/from_a"), "a\n");
}

TEST_F(RepoTest, AFastForwardLeftHalfDoneIsUndoneWithoutTakingTheRemotesFilesAsOurs) {
  auto a = Clone("a");
  Write(dir_ + "/a/shared", "v1\n");
  CommitAndPush(a.get(), "v1");
  auto b = Clone("b");
  Write(dir_ + "/a/shared", "v2\n");
  CommitAndPush(a.get(), "v2");
  b.reset();
  {
    // A pull killed after its checkout and before its ref update: the tree
    // holds the remote's files, HEAD the old commit.
    git_repository* raw = nullptr;
    ASSERT_EQ(git_repository_open(&raw, (dir_ + "/b").c_str()), 0);
    git_remote* origin = nullptr;
    ASSERT_EQ(git_remote_lookup(&origin, raw, "origin"), 0);
    ASSERT_EQ(git_remote_fetch(origin, nullptr, nullptr, nullptr), 0);
    git_remote_free(origin);
    git_object* upstream = nullptr;
    ASSERT_EQ(git_revparse_single(&upstream, raw, "refs/remotes/origin/main"), 0);
    git_checkout_options force = GIT_CHECKOUT_OPTIONS_INIT;
    force.checkout_strategy = GIT_CHECKOUT_FORCE;
    ASSERT_EQ(git_checkout_tree(raw, upstream, &force), 0);
    char target[GIT_OID_HEXSZ + 1];
    git_oid_tostr(target, sizeof(target), git_object_id(upstream));
    git_object_free(upstream);
    git_repository_free(raw);
    Write(dir_ + "/b/.git/fleet-fast-forward", std::string("x ") + target + "\n");
  }
  EXPECT_EQ(Read(dir_ + "/b/shared"), "v2\n");
  Write(dir_ + "/b/mine", "written during the outage\n");
  b = Clone("b");
  EXPECT_THAT(b->UndoInterruptedOperation(),
              ::testing::HasSubstr("a checkout of fetched or merged commits"));
  EXPECT_EQ(Read(dir_ + "/b/shared"), "v1\n");  // As HEAD says: not b's change.
  EXPECT_EQ(Read(dir_ + "/b/mine"), "written during the outage\n");
  bool committed = false;
  ASSERT_TRUE(b->CommitAll("b", "b@l", "b's work", &committed).ok());
  PullResult pulled;
  ASSERT_TRUE(b->Pull(&pulled).ok());
  bool rejected = true;
  ASSERT_TRUE(b->Push(&rejected).ok());
  ASSERT_TRUE(a->Pull(&pulled).ok());
  EXPECT_EQ(Read(dir_ + "/a/shared"), "v2\n");  // Never reverted by b.
  EXPECT_EQ(Read(dir_ + "/a/mine"), "written during the outage\n");
}

TEST_F(RepoTest, ForeignRepositoryIsNotClonedOver) {
  std::string tree = dir_ + "/x";
  ASSERT_EQ(system(("mkdir -p " + tree + "/.git && echo junk > " + tree + "/.git/HEAD").c_str()),
            0);
  GitStatus status;
  EXPECT_EQ(Repo::OpenOrClone(tree, remote_, "main", &status), nullptr);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(Read(tree + "/.git/HEAD"), "junk\n");
}

}  // namespace
}  // namespace fleet::plugins::sync
