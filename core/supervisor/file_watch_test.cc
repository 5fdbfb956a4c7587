#include "core/supervisor/file_watch.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/os/files.h"
#include "gtest/gtest.h"

namespace fleet::supervisor {
namespace {

class FileWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = absl::StrCat(getenv("TEST_TMPDIR"), "/watch.XXXXXX");
    dir_ = mkdtemp(tmpl.data());
  }

  std::string dir_;
  std::vector<std::pair<std::string, bool>> changes_;
  std::string polling_why_;
  FileWatch watch_{
      os::RealClock(),
      [this](const std::string& path, bool complete) { changes_.emplace_back(path, complete); },
      [this](const std::string& why) { polling_why_ = why; }};
};

TEST_F(FileWatchTest, ReportsChangesOfWatchedFilesOnlyAndWhetherTheyAreComplete) {
  watch_.Init();
  ASSERT_GE(watch_.fd(), 0) << polling_why_;
  const std::string watched = dir_ + "/metrics.json";
  watch_.Set({watched, watched}, os::RealClock()->MonotonicNow());
  ASSERT_TRUE(os::WriteFileAtomic(watched, "{}", 0644).ok());  // Renamed into place.
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/other", "x", 0644).ok());
  watch_.OnReadable(os::RealClock()->MonotonicNow());
  bool complete = false;
  for (const auto& [path, done] : changes_) {
    EXPECT_EQ(path, watched);  // The directory's other files are not reported.
    complete = complete || done;
  }
  EXPECT_TRUE(complete);
  EXPECT_TRUE(watch_.ChangedAt(watched).has_value());
  EXPECT_FALSE(watch_.ChangedAt(dir_ + "/other").has_value());
}

TEST_F(FileWatchTest, AFileSeenFirstIsAsOldAsItsMtime) {
  const std::string path = dir_ + "/heartbeat";
  ASSERT_TRUE(os::WriteFileAtomic(path, "beat", 0644).ok());
  const struct timespec times[2] = {{0, UTIME_OMIT}, {time(nullptr) - 30, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  watch_.Init();
  const os::MonoTime now = os::RealClock()->MonotonicNow();
  watch_.Set({path}, now);
  ASSERT_TRUE(watch_.ChangedAt(path).has_value());
  EXPECT_GE(now - *watch_.ChangedAt(path), absl::Seconds(29));
}

TEST_F(FileWatchTest, AMissingDirectoryIsRetriedAndPollingFindsChanges) {
  watch_.Init();
  const std::string later = dir_ + "/later/answer";
  const os::MonoTime now = os::RealClock()->MonotonicNow();
  watch_.Set({later}, now);
  EXPECT_FALSE(watch_.wants_retry(now));                    // Not at every change of the fleet,
  EXPECT_TRUE(watch_.wants_retry(now + absl::Seconds(1)));  // but once a second.
  ASSERT_TRUE(os::MakeDirs(dir_ + "/later", 0700).ok());
  watch_.Set({later}, now + absl::Seconds(1));
  EXPECT_FALSE(watch_.wants_retry(now + absl::Seconds(5)));

  // Without inotify: a rescan notices a file created since the last one.
  FileWatch polled(
      os::RealClock(),
      [this](const std::string& path, bool complete) { changes_.emplace_back(path, complete); },
      [this](const std::string& why) { polling_why_ = why; });
  // Not Init(): as when inotify_init1 fails, the caller polls.
  polled.Set({later}, os::RealClock()->MonotonicNow());
  polled.Rescan(os::RealClock()->MonotonicNow());
  ASSERT_TRUE(os::WriteFileAtomic(later, "answer", 0644).ok());
  changes_.clear();
  polled.Rescan(os::RealClock()->MonotonicNow());
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_EQ(changes_[0].first, later);
}

}  // namespace
}  // namespace fleet::supervisor
