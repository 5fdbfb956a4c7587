// Twenty writers commit and push to one bare remote at once, half of them to
// the same line log: afterwards every commit is in the remote's history, the
// shared log holds every line, and no file has conflict markers.
#include <git2.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "plugins/sync/publish.h"

namespace fleet::plugins::sync {
namespace {

constexpr int kWriters = 20;
constexpr int kRounds = 8;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int CountCommits(const std::string& repo_path) {
  git_repository* repo = nullptr;
  if (git_repository_open(&repo, repo_path.c_str()) != 0) return -1;
  git_revwalk* walk = nullptr;
  git_revwalk_new(&walk, repo);
  git_revwalk_push_ref(walk, "refs/heads/main");
  int n = 0;
  git_oid id;
  while (git_revwalk_next(&id, walk) == 0) ++n;
  git_revwalk_free(walk);
  git_repository_free(repo);
  return n;
}

TEST(PublishStressTest, TwentyWritersLoseNothing) {
  std::string tmpl = std::string(getenv("TEST_TMPDIR")) + "/stress.XXXXXX";
  const std::string dir = mkdtemp(tmpl.data());
  const std::string remote = dir + "/remote.git";
  git_libgit2_init();
  git_repository* bare = nullptr;
  ASSERT_EQ(git_repository_init(&bare, remote.c_str(), 1), 0);
  git_repository_free(bare);

  std::vector<std::string> failures(kWriters);
  std::vector<int> attempts(kWriters);
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      GitStatus status;
      const std::string tree = dir + "/w" + std::to_string(w);
      auto repo = Repo::OpenOrClone(tree, remote, "main", &status);
      if (repo == nullptr) {
        failures[w] = status.error;
        return;
      }
      repo->SetMergeRules({{"shared/*.log", Strategy::kUnion}});
      const bool shared = w % 2 == 0;
      for (int round = 0; round < kRounds; ++round) {
        PullResult pulled;
        status = repo->Pull(&pulled);  // Workers see the latest state first.
        if (!status.ok()) {
          failures[w] = status.error;
          return;
        }
        const std::string line = "w" + std::to_string(w) + " r" + std::to_string(round) + "\n";
        const std::string file =
            shared ? tree + "/shared/ledger.log" : tree + "/own/w" + std::to_string(w) + ".json";
        std::filesystem::create_directories(std::filesystem::path(file).parent_path());
        if (shared) {
          std::ofstream(file, std::ios::app) << line;
        } else {
          std::ofstream(file) << "{\"round\": " << round << "}\n";
        }
        PublishOptions options{"w" + std::to_string(w), "w@fleet", line, 100, nullptr};
        PublishResult published = Publish(*repo, options);
        attempts[w] += published.attempts;
        if (!published.pushed) {
          failures[w] = published.error;
          for (const std::string& path : published.unresolved) failures[w] += " " + path;
          return;
        }
      }
    });
  }
  for (std::thread& t : writers) t.join();
  for (int w = 0; w < kWriters; ++w) EXPECT_EQ(failures[w], "") << "writer " << w;

  // Zero lost: every writer's every round is a commit in the remote.
  EXPECT_EQ(CountCommits(remote), kWriters * kRounds);
  GitStatus status;
  auto check = Repo::OpenOrClone(dir + "/check", remote, "main", &status);
  ASSERT_NE(check, nullptr) << status.error;
  const std::string ledger = Read(dir + "/check/shared/ledger.log");
  for (int w = 0; w < kWriters; w += 2) {
    for (int round = 0; round < kRounds; ++round) {
      const std::string line = "w" + std::to_string(w) + " r" + std::to_string(round) + "\n";
      EXPECT_NE(ledger.find(line), std::string::npos) << line;
    }
  }
  EXPECT_EQ(ledger.find("<<<<<<<"), std::string::npos);
  for (int w = 1; w < kWriters; w += 2) {
    EXPECT_EQ(Read(dir + "/check/own/w" + std::to_string(w) + ".json"),
              "{\"round\": " + std::to_string(kRounds - 1) + "}\n");
  }
  int total = 0;
  for (int a : attempts) total += a;
  std::printf("%d commits pushed with %d push attempts\n", kWriters * kRounds, total);
}

}  // namespace
}  // namespace fleet::plugins::sync
