#include "core/os/files.h"

#include <stdlib.h>
#include <sys/stat.h>

#include "gtest/gtest.h"

namespace fleet::os {
namespace {

std::string TempDir() {
  std::string tmpl = std::string(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp") +
                     "/files_test.XXXXXX";
  return mkdtemp(tmpl.data());
}

TEST(FilesTest, AtomicWriteReplacesAndLeavesNoTemp) {
  std::string dir = TempDir();
  std::string path = JoinPath(dir, "state.json");
  ASSERT_TRUE(WriteFileAtomic(path, "one").ok());
  ASSERT_TRUE(WriteFileAtomic(path, "two").ok());
  EXPECT_EQ(*ReadFile(path), "two");
  struct stat st;
  EXPECT_NE(stat((path + ".tmp." + std::to_string(getpid())).c_str(), &st), 0);
}

TEST(FilesTest, ReadMissingIsNotFound) {
  EXPECT_EQ(ReadFile("/no/such/file").status().code(), absl::StatusCode::kNotFound);
}

TEST(FilesTest, MakeDirsCreatesParents) {
  std::string dir = TempDir() + "/a/b/c";
  ASSERT_TRUE(MakeDirs(dir, 0700).ok());
  struct stat st;
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700);
  EXPECT_TRUE(MakeDirs(dir).ok());  // Idempotent.
}

TEST(FilesTest, PathHelpers) {
  setenv("HOME", "/home/op", 1);
  EXPECT_EQ(ExpandHome("~/agents"), "/home/op/agents");
  EXPECT_EQ(ExpandHome("~"), "/home/op");
  EXPECT_EQ(ExpandHome("/abs"), "/abs");
  EXPECT_EQ(JoinPath("/etc/fleet", "run"), "/etc/fleet/run");
  EXPECT_EQ(JoinPath("/etc/fleet", "/var/run"), "/var/run");
  EXPECT_EQ(DirName("/etc/fleet/fleet.yaml"), "/etc/fleet");
  EXPECT_EQ(DirName("fleet.yaml"), ".");
}

}  // namespace
}  // namespace fleet::os
