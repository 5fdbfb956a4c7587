// Conflicts between two clones, resolved by each merge strategy, and the
// merges that would break a state file refused.
#include <sys/stat.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "plugins/sync/repo_fixture.h"

namespace fleet::plugins::sync {
namespace {

using ::testing::ElementsAre;

class ConflictTest : public RepoTest {
 protected:
  PullResult Diverge(const std::string& path, const std::string& base, const std::string& a_text,
                     const std::string& b_text, std::vector<MergeRule> rules) {
    a_ = Clone("a");
    Write(dir_ + "/a/" + path, base);
    CommitAndPush(a_.get(), "base");
    b_ = Clone("b");
    b_->SetMergeRules(std::move(rules));
    b_->SetMergeInsteadOfRebase(merge_);
    Write(dir_ + "/a/" + path, a_text);
    CommitAndPush(a_.get(), "a");
    Write(dir_ + "/b/" + path, b_text);
    bool committed = false;
    EXPECT_TRUE(b_->CommitAll("b", "b@l", "b", &committed).ok());
    before_ = Stat(dir_ + "/b/" + path);
    PullResult pulled;
    GitStatus status = b_->Pull(&pulled);
    EXPECT_TRUE(status.ok()) << status.error;
    bool rejected = true;
    if (pulled.kind != PullResult::kConflict) {
      EXPECT_TRUE(b_->Push(&rejected).ok());
      EXPECT_FALSE(rejected);
    }
    return pulled;
  }
  // Inode and change time: a file rewritten with the same bytes differs.
  static std::string Stat(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return "missing";
    return std::to_string(st.st_ino) + "@" + std::to_string(st.st_ctim.tv_sec) + "." +
           std::to_string(st.st_ctim.tv_nsec);
  }
  bool merge_ = false;
  std::string before_;  // Stat() of b's file just before the pull.
  std::unique_ptr<Repo> a_, b_;
};

TEST_F(ConflictTest, UnionKeepsEveryLine) {
  PullResult r = Diverge("logs/ledger.txt", "start\n", "start\na\n", "start\nb\n",
                         {{"logs/*.txt", Strategy::kUnion}});
  EXPECT_EQ(r.kind, PullResult::kRebased);
  EXPECT_THAT(r.resolved, ElementsAre("logs/ledger.txt"));
  EXPECT_THAT(r.resolved_by, ElementsAre("union"));
  EXPECT_EQ(Read(dir_ + "/b/logs/ledger.txt"), "start\na\nb\n");
}

TEST_F(ConflictTest, OursKeepsThisInstancesVersion) {
  EXPECT_EQ(Diverge("x.cfg", "v0\n", "a\n", "b\n", {{"*.cfg", Strategy::kOurs}}).kind,
            PullResult::kRebased);
  EXPECT_EQ(Read(dir_ + "/b/x.cfg"), "b\n");
}

TEST_F(ConflictTest, TheirsTakesThePushedVersion) {
  Diverge("x.cfg", "v0\n", "a\n", "b\n", {{"*.cfg", Strategy::kTheirs}});
  EXPECT_EQ(Read(dir_ + "/b/x.cfg"), "a\n");
}

TEST_F(ConflictTest, KeepBothSavesTheOtherSideBeside) {
  PullResult r = Diverge("report.md", "v0\n", "a\n", "b\n", {{"*", Strategy::kKeepBoth}});
  EXPECT_EQ(r.kind, PullResult::kRebased);
  EXPECT_EQ(Read(dir_ + "/b/report.md"), "b\n");
  const std::string onto = a_->Head().substr(0, 7);
  EXPECT_EQ(Read(dir_ + "/b/report.md.theirs-" + onto), "a\n");
}

TEST_F(ConflictTest, JsonMergesKeyByKey) {
  PullResult r =
      Diverge("state/bot.json", "{\"cash\": 40, \"n\": 1}\n", "{\"cash\": 40, \"n\": 2}\n",
              "{\"cash\": 35, \"n\": 3}\n", {{"*.json", Strategy::kJsonOurs}});
  EXPECT_EQ(r.kind, PullResult::kRebased);
  EXPECT_EQ(Read(dir_ + "/b/state/bot.json"), "{\n  \"cash\": 35,\n  \"n\": 3\n}\n");
}

TEST_F(ConflictTest, AMergeThatBreaksJsonIsRefused) {
  // Union would glue two JSON documents together: refused, nothing committed.
  PullResult r =
      Diverge("state.json", "{}\n", "{\"a\": 1}\n", "{\"b\": 1}\n", {{"*", Strategy::kUnion}});
  EXPECT_EQ(r.kind, PullResult::kConflict);
  ASSERT_EQ(r.refused.size(), 1u);
  EXPECT_THAT(r.refused[0], ::testing::HasSubstr("state.json: the merged file is not valid JSON"));
  EXPECT_EQ(Read(dir_ + "/b/state.json"), "{\"b\": 1}\n");
}

TEST_F(ConflictTest, AMergeThatBreaksYamlIsRefused) {
  // Both sides are YAML; their lines together are not.
  PullResult r = Diverge("state.yaml", "x: 0\n", "x: 1\n", "- 2\n", {{"*", Strategy::kUnion}});
  EXPECT_EQ(r.kind, PullResult::kConflict);
  ASSERT_EQ(r.refused.size(), 1u);
  EXPECT_THAT(r.refused[0], ::testing::HasSubstr("state.yaml: the merged file is not valid YAML"));
}

TEST_F(ConflictTest, AMergeThatRepeatsAYamlKeyIsRefused) {
  // Two edits of one key, kept side by side, repeat the key.
  PullResult r =
      Diverge("other.yml", "cash: 0\n", "cash: 10\n", "cash: 20\n", {{"*", Strategy::kUnion}});
  EXPECT_EQ(r.kind, PullResult::kConflict);
  ASSERT_EQ(r.refused.size(), 1u);
  EXPECT_THAT(r.refused[0], ::testing::HasSubstr("key 'cash' appears twice"));
}

TEST_F(ConflictTest, AnUncoveredPathAbortsEverything) {
  PullResult r =
      Diverge("state.json", "{}\n", "{\"a\":1}\n", "{\"b\":1}\n", {{"*.txt", Strategy::kUnion}});
  EXPECT_EQ(r.kind, PullResult::kConflict);
  EXPECT_THAT(r.conflicts, ElementsAre("state.json"));
  EXPECT_EQ(Read(dir_ + "/b/state.json"), "{\"b\":1}\n");
  // Not even for a moment: the rebase is worked out in memory, so a reader
  // never sees the file with conflict markers (it is not rewritten at all).
  EXPECT_EQ(Stat(dir_ + "/b/state.json"), before_);
}

TEST_F(ConflictTest, AnUncoveredPathInAMergeNeverTouchesTheWorkTree) {
  merge_ = true;
  PullResult r =
      Diverge("state.json", "{}\n", "{\"a\":1}\n", "{\"b\":1}\n", {{"*.txt", Strategy::kUnion}});
  EXPECT_EQ(r.kind, PullResult::kConflict);
  EXPECT_THAT(r.conflicts, ElementsAre("state.json"));
  EXPECT_EQ(Stat(dir_ + "/b/state.json"), before_);
}

TEST_F(ConflictTest, ARefusedMergeNeverTouchesTheWorkTree) {
  for (bool merge : {false, true}) {
    SCOPED_TRACE(merge ? "merge" : "rebase");
    merge_ = merge;
    PullResult r =
        Diverge("state.json", "{}\n", "{\"a\": 1}\n", "{\"b\": 1}\n", {{"*", Strategy::kUnion}});
    EXPECT_EQ(r.kind, PullResult::kConflict);
    EXPECT_EQ(Stat(dir_ + "/b/state.json"), before_);
    std::filesystem::remove_all(dir_ + "/a");
    std::filesystem::remove_all(dir_ + "/b");
  }
}

TEST_F(ConflictTest, AResolvedMergeCommitsTheResolution) {
  merge_ = true;
  PullResult r = Diverge("logs/ledger.txt", "start\n", "start\na\n", "start\nb\n",
                         {{"logs/*.txt", Strategy::kUnion}});
  EXPECT_EQ(r.kind, PullResult::kMerged);
  EXPECT_EQ(Read(dir_ + "/b/logs/ledger.txt"), "start\na\nb\n");
  bool committed = true;
  ASSERT_TRUE(b_->CommitAll("b", "b@l", "b", &committed).ok());
  EXPECT_FALSE(committed);  // The tree is the merge commit's, nothing left over.
}

}  // namespace
}  // namespace fleet::plugins::sync
