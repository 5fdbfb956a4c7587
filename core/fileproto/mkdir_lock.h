// mkdir locks, the file protocol's mutex: locks/NAME/ exists while someone
// holds NAME, and locks/NAME/owner says who ("PID STARTTIME\n"), so a lock
// whose owner died (or whose pid was reused) is recognised and broken.
// Shell scripts can take the same locks with mkdir, or with `fleetctl lock`.
#ifndef FLEET_CORE_FILEPROTO_MKDIR_LOCK_H_
#define FLEET_CORE_FILEPROTO_MKDIR_LOCK_H_

#include <sys/types.h>

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace fleet::fileproto {

struct LockOwner {
  pid_t pid = 0;
  uint64_t start_time = 0;  // /proc/PID/stat field 22; 0 if unknown
};

// Not thread-safe; one object per held lock. Releases on destruction.
class MkdirLock {
 public:
  // Takes locks_dir/name, waiting up to `wait` (zero: try once) and breaking a
  // lock whose owner is dead. Errors: kInvalidArgument (bad name),
  // kDeadlineExceeded (held by a live owner; the message names its pid).
  static absl::StatusOr<MkdirLock> Acquire(const std::string& locks_dir, const std::string& name,
                                           absl::Duration wait);

  MkdirLock(MkdirLock&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  MkdirLock& operator=(MkdirLock&&) = delete;
  ~MkdirLock() { Release(); }

  void Release();
  const std::string& path() const { return path_; }

 private:
  explicit MkdirLock(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// The owner recorded in a lock directory, if readable.
std::optional<LockOwner> ReadLockOwner(const std::string& lock_path);

// True when the recorded owner no longer runs (no such pid, or the pid now
// belongs to a process with another start time).
bool OwnerIsDead(const LockOwner& owner);

// Lock names: [A-Za-z0-9._-]+, no "..", at most 128 characters.
bool IsValidLockName(const std::string& name);

}  // namespace fleet::fileproto

#endif  // FLEET_CORE_FILEPROTO_MKDIR_LOCK_H_
