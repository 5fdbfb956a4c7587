// Recovery through fleetd: real workers clobber protected files and write
// malformed state; a killed owner leaves a lock behind.
#include <git2.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/fleet_harness.h"

namespace fleet::testing {
namespace {

using ::testing::HasSubstr;
namespace ctl = ::fleet::control::v1;
namespace fs = std::filesystem;

// Files in dir (recursively) whose content is exactly `content`.
int FilesHolding(const std::string& dir, const std::string& content) {
  int n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file() && FleetHarness::FileText(it->path()) == content) ++n;
  }
  return n;
}

TEST(RecoveryTest, AProtectedFileAWorkerTruncatesIsPutBack) {
  FleetHarness h;
  fs::create_directories(h.dir() + "/data");
  const std::string good = "{\"cash\": 40, \"positions\": [1, 2]}\n";
  // Writes the book, lets it settle, then clobbers it: empty, then without
  // its required key.
  h.WriteFile("clobber.sh", absl::StrCat("printf '%s' '", good, "' > data/book.json\n",
                                         "sleep 2; : > data/book.json; echo truncated\n",
                                         "sleep 3; echo '{\"positions\": []}' > data/book.json;"
                                         " echo rewrote\nexec sleep 1000\n"));
  h.WriteFile("fleet.yaml", absl::StrCat(
                                "name: it\nrun_dir: run\n"
                                "recovery:\n  interval: 300ms\n  protect:\n"
                                "    - {path: data/book.json, required_keys: [cash]}\n"
                                "engines:\n  - name: w\n    command: [sh, clobber.sh]\n"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  const std::string book = h.dir() + "/data/book.json";
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Fleetctl({"logs", "w"}).out.find("truncated") != std::string::npos; },
      absl::Seconds(20)));
  // Put back within the settle time (1s) plus a pass or two.
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Fleetctl({"events", "-n", "100"}).out.find("empty; put back") != std::string::npos; },
      absl::Seconds(10)))
      << h.Fleetctl({"events", "-n", "100"}).out;
  EXPECT_EQ(FleetHarness::FileText(book), good);
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return h.Fleetctl({"events", "-n", "100"}).out.find("required key 'cash' is missing") !=
               std::string::npos;
      },
      absl::Seconds(15)))
      << h.Fleetctl({"events", "-n", "100"}).out;
  EXPECT_EQ(FleetHarness::FileText(book), good);
  // The clobbered versions are kept, not discarded.
  EXPECT_EQ(FilesHolding(h.run_dir() + "/recovery/quarantine", "{\"positions\": []}\n"), 1);
  EXPECT_THAT(h.Fleetctl({"events", "-n", "100"}).out, HasSubstr("file_restored"));
  // Counted for Prometheus: both restores, both bad versions kept.
  const std::string metrics = h.Fleetctl({"metrics"}).out;
  EXPECT_GE(FleetHarness::MetricSum(metrics, "fleet_recovery_actions_total",
                                    "action=\"restored\""),
            2)
      << metrics;
  EXPECT_GE(FleetHarness::MetricSum(metrics, "fleet_recovery_actions_total",
                                    "action=\"quarantined\""),
            2)
      << metrics;
  EXPECT_EQ(FleetHarness::MetricSum(metrics, "fleet_recovery_actions_total", "action=\"error\""),
            0)
      << metrics;
  EXPECT_EQ(h.Instance("w/0").restarts(), 0u);  // Recovery never touches the worker.
}

TEST(RecoveryTest, MalformedStateIsNeverCommittedAndTheLastGoodIsPutBack) {
  FleetHarness h;
  const std::string remote = h.dir() + "/remote.git";
  git_libgit2_init();
  git_repository* bare = nullptr;
  ASSERT_EQ(git_repository_init(&bare, remote.c_str(), 1), 0);
  git_repository_free(bare);
  // Run 1 writes a good book; run 2 a malformed one; later runs nothing.
  h.WriteFile("worker.sh",
              "n=$(cat runs 2>/dev/null || echo 0); n=$((n+1)); echo $n > runs\n"
              "if [ $n -eq 1 ]; then echo '{\"cash\": 1}' > \"$FLEET_STATE_DIR/book.json\"; fi\n"
              "if [ $n -eq 2 ]; then echo '{\"cash\": ' > \"$FLEET_STATE_DIR/book.json\"; fi\n"
              "echo run $n\n");
  h.WriteFile("fleet.yaml",
              "name: it\nrun_dir: run\nstate: {remote: remote.git}\n"
              "recovery:\n  protect:\n    - {path: \"*.json\", state: true}\n"
              "engines:\n  - name: w\n    state: true\n    command: [sh, worker.sh]\n"
              "    cycle: {interval: 300ms}\n");
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Fleetctl({"events", "-n", "200"}).out.find("state_invalid") != std::string::npos; },
      absl::Seconds(20)))
      << h.Fleetctl({"events", "-n", "200"}).out;
  EXPECT_THAT(h.Fleetctl({"events", "-n", "200"}).out, HasSubstr("book.json: not valid JSON"));
  EXPECT_EQ(FleetHarness::FileText(h.run_dir() + "/state/w.0/book.json"), "{\"cash\": 1}\n");
  // Every version of book.json the remote ever saw parses.
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        const std::string runs = FleetHarness::FileText(h.dir() + "/runs");
        return std::stoi(runs.empty() ? "0" : runs) >= 4;
      },
      absl::Seconds(20)));
  git_repository* repo = nullptr;
  ASSERT_EQ(git_repository_open_bare(&repo, remote.c_str()), 0);
  git_revwalk* walk = nullptr;
  git_revwalk_new(&walk, repo);
  ASSERT_EQ(git_revwalk_push_ref(walk, "refs/heads/main"), 0);
  git_oid id;
  int versions = 0;
  while (git_revwalk_next(&id, walk) == 0) {
    git_commit* commit = nullptr;
    git_commit_lookup(&commit, repo, &id);
    git_tree* tree = nullptr;
    git_commit_tree(&tree, commit);
    const git_tree_entry* entry = git_tree_entry_byname(tree, "book.json");
    if (entry != nullptr) {
      git_blob* blob = nullptr;
      git_blob_lookup(&blob, repo, git_tree_entry_id(entry));
      EXPECT_EQ(std::string(static_cast<const char*>(git_blob_rawcontent(blob)),
                            static_cast<size_t>(git_blob_rawsize(blob))),
                "{\"cash\": 1}\n");
      ++versions;
      git_blob_free(blob);
    }
    git_tree_free(tree);
    git_commit_free(commit);
  }
  git_revwalk_free(walk);
  git_repository_free(repo);
  git_libgit2_shutdown();
  EXPECT_GE(versions, 1);
}

TEST(RecoveryTest, ALockOfAKilledOwnerIsBrokenAtStart) {
  FleetHarness h;
  pid_t gone = fork();
  if (gone == 0) _exit(0);
  waitpid(gone, nullptr, 0);
  fs::create_directories(h.run_dir() + "/locks/ledger");
  h.WriteFile("run/locks/ledger/owner", absl::StrCat(gone, " 1\n"));
  fs::create_directories(h.run_dir() + "/locks/held");
  h.WriteFile("run/locks/held/owner", absl::StrCat(getpid(), "\n"));
  h.WriteFile("fleet.yaml", "name: it\nrun_dir: run\nrecovery: {}\n"
                            "engines:\n  - name: w\n    shell: 'exec sleep 1000'\n");
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return !fs::exists(h.run_dir() + "/locks/ledger"); },
                                      absl::Seconds(10)));
  EXPECT_TRUE(fs::exists(h.run_dir() + "/locks/held/owner"));  // Its owner lives.
  EXPECT_THAT(h.Fleetctl({"events", "-n", "50"}).out, HasSubstr("lock_broken"));
}

}  // namespace
}  // namespace fleet::testing
