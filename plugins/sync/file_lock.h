// An exclusive flock(2) on a file, held for the object's lifetime. A flock
// dies with its holder, so it can never go stale; the file itself stays (it
// is not a lock by existing, unlike Git's *.lock files).
#ifndef FLEET_PLUGINS_SYNC_FILE_LOCK_H_
#define FLEET_PLUGINS_SYNC_FILE_LOCK_H_

#include <string>

namespace fleet::plugins::sync {

class FileLock {
 public:
  // Creates path if needed and waits for the lock up to timeout_ms; error()
  // says why it was not taken.
  FileLock(const std::string& path, int timeout_ms);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  bool held() const { return fd_ >= 0 && error_.empty(); }
  const std::string& error() const { return error_; }
  double waited_ms() const { return waited_ms_; }
  // Someone else held it when we came: it was not taken at the first try.
  bool contended() const { return contended_; }

 private:
  int fd_ = -1;
  double waited_ms_ = 0;
  bool contended_ = false;
  std::string error_;
};

}  // namespace fleet::plugins::sync

#endif  // FLEET_PLUGINS_SYNC_FILE_LOCK_H_
