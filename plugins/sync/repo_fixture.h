// The fixture of the Repo tests: a bare remote in the test's temp dir and
// clones of it. testonly.
#ifndef FLEET_PLUGINS_SYNC_REPO_FIXTURE_H_
#define FLEET_PLUGINS_SYNC_REPO_FIXTURE_H_

#include <git2.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "plugins/sync/repo.h"

namespace fleet::plugins::sync {

inline std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void Write(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

class RepoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = std::string(getenv("TEST_TMPDIR")) + "/repo.XXXXXX";
    dir_ = mkdtemp(tmpl.data());
    remote_ = dir_ + "/remote.git";
    git_libgit2_init();
    git_repository* bare = nullptr;
    ASSERT_EQ(git_repository_init(&bare, remote_.c_str(), /*is_bare=*/1), 0);
    git_repository_free(bare);
  }

  std::unique_ptr<Repo> Clone(const std::string& name) {
    GitStatus status;
    auto repo = Repo::OpenOrClone(dir_ + "/" + name, remote_, "main", &status);
    EXPECT_TRUE(status.ok()) << status.error;
    return repo;
  }

  void CommitAndPush(Repo* repo, const std::string& message) {
    bool committed = false;
    ASSERT_TRUE(repo->CommitAll("test", "test@localhost", message, &committed).ok());
    ASSERT_TRUE(committed);
    bool rejected = true;
    ASSERT_TRUE(repo->Push(&rejected).ok());
    ASSERT_FALSE(rejected);
  }

  std::string dir_, remote_;
};

}  // namespace fleet::plugins::sync

#endif  // FLEET_PLUGINS_SYNC_REPO_FIXTURE_H_
