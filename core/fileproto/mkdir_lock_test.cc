#include "core/fileproto/mkdir_lock.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "core/os/files.h"
#include "core/os/process.h"
#include "gtest/gtest.h"

namespace fleet::fileproto {
namespace {

std::string TempDir() {
  std::string tmpl = absl::StrCat(getenv("TEST_TMPDIR"), "/locks.XXXXXX");
  return mkdtemp(tmpl.data());
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

TEST(MkdirLockTest, ExcludesAndReleases) {
  std::string dir = TempDir();
  auto first = MkdirLock::Acquire(dir, "push", absl::ZeroDuration());
  ASSERT_TRUE(first.ok()) << first.status();
  auto owner = ReadLockOwner(dir + "/push");
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->pid, getpid());
  EXPECT_FALSE(OwnerIsDead(*owner));
  auto second = MkdirLock::Acquire(dir, "push", absl::Milliseconds(50));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kDeadlineExceeded);
  first->Release();
  EXPECT_FALSE(Exists(dir + "/push"));
  EXPECT_TRUE(MkdirLock::Acquire(dir, "push", absl::ZeroDuration()).ok());
}

TEST(MkdirLockTest, BreaksADeadOwnersLock) {
  std::string dir = TempDir();
  auto pid = os::Spawn({{"true"}, {"PATH=/bin:/usr/bin"}, "", -1});
  ASSERT_TRUE(pid.ok());
  os::WaitProcess(*pid);
  ASSERT_EQ(mkdir((dir + "/state").c_str(), 0755), 0);
  ASSERT_TRUE(os::WriteFileAtomic(dir + "/state/owner", absl::StrCat(*pid, " 1\n")).ok());
  auto lock = MkdirLock::Acquire(dir, "state", absl::ZeroDuration());
  ASSERT_TRUE(lock.ok()) << lock.status();
  EXPECT_EQ(ReadLockOwner(dir + "/state")->pid, getpid());
}

TEST(MkdirLockTest, AReusedPidIsNotTheOwner) {
  // Our own pid with another start time: the recorded owner is gone.
  EXPECT_TRUE(OwnerIsDead({getpid(), 1}));
  EXPECT_FALSE(OwnerIsDead({getpid(), *os::ProcessStartTime(getpid())}));
}

TEST(MkdirLockTest, RefusesBadNames) {
  std::string dir = TempDir();
  for (const char* bad : {"", "..", "a/b", "../x", "a..b", "sp ace"}) {
    EXPECT_EQ(MkdirLock::Acquire(dir, bad, absl::ZeroDuration()).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

}  // namespace
}  // namespace fleet::fileproto
