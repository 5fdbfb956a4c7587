#include "core/os/files.h"

#include <stdlib.h>
#include <sys/stat.h>

#include "core/os/env.h"
#include "gtest/gtest.h"
#include "tests/fakes/fault_env.h"

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

// Every file operation of an atomic write, failed in turn: the error says
// what failed and where, the path holds the old or the new content (never
// a torn one), and no temporary file is left behind.
TEST(FilesTest, EachFailingStepOfAnAtomicWriteIsReportedAndHarmless) {
  const std::string dir = TempDir();
  const std::string path = JoinPath(dir, "state.json");
  ASSERT_TRUE(WriteFileAtomic(path, "old").ok());
  int fired = 0;
  for (EnvOp op : {EnvOp::kOpen, EnvOp::kWrite, EnvOp::kFsync, EnvOp::kRename}) {
    for (uint64_t nth = 1; nth <= 3; ++nth) {
      testing::FaultEnv env(DefaultEnv());
      env.FailNth(op, nth, EIO);
      SetEnvForTesting(&env);
      const absl::Status written = WriteFileAtomic(path, "new");
      SetEnvForTesting(nullptr);
      const std::string now = *ReadFile(path);
      EXPECT_TRUE(now == "old" || now == "new") << now;
      EXPECT_EQ(ListDirectory(dir), std::vector<std::string>{"state.json"})
          << EnvOpName(op) << " #" << nth;
      if (!env.fired()) {
        EXPECT_TRUE(written.ok()) << written;
        continue;
      }
      ++fired;
      ASSERT_FALSE(written.ok()) << EnvOpName(op) << " #" << nth << " failed silently";
      EXPECT_NE(written.message().find(EnvOpName(op) == std::string("open") ? "" : EnvOpName(op)),
                std::string::npos)
          << written;
      EXPECT_NE(written.message().find(dir), std::string::npos) << written;
      EXPECT_NE(written.message().find("Input/output error"), std::string::npos) << written;
      ASSERT_TRUE(WriteFileAtomic(path, "old").ok());
    }
  }
  // open: the temporary file and the directory; write, fsync x2, rename.
  EXPECT_EQ(fired, 6);
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
