#include "core/fileproto/mkdir_lock.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "core/os/clock.h"
#include "core/os/files.h"
#include "core/os/process.h"
#include "core/os/env.h"

namespace fleet::fileproto {
namespace {

// A lock directory without an owner file is being created; past this age its
// creator died between mkdir and writing the owner.
constexpr absl::Duration kOwnerlessGrace = absl::Seconds(5);

void RemoveLockDir(const std::string& path) {
  os::CurrentEnv()->Unlink(absl::StrCat(path, "/owner").c_str());
  ::rmdir(path.c_str());
}

// Moves a dead owner's lock aside (one rename wins among racing breakers) and
// deletes it.
bool Break(const std::string& path) {
  std::string aside = absl::StrCat(path, ".broken.", ::getpid());
  if (os::CurrentEnv()->Rename(path.c_str(), aside.c_str()) != 0) return false;
  RemoveLockDir(aside);
  return true;
}

}  // namespace

bool IsValidLockName(const std::string& name) {
  if (name.empty() || name.size() > 128 || name == "." || name == ".." ||
      name.find("..") != std::string::npos) {
    return false;
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

std::optional<LockOwner> ReadLockOwner(const std::string& lock_path) {
  absl::StatusOr<std::string> text = os::ReadFile(absl::StrCat(lock_path, "/owner"));
  if (!text.ok()) return std::nullopt;
  std::vector<std::string> fields =
      absl::StrSplit(absl::StripAsciiWhitespace(*text), absl::ByAnyChar(" \n"), absl::SkipEmpty());
  LockOwner owner;
  if (fields.empty() || !absl::SimpleAtoi(fields[0], &owner.pid) || owner.pid <= 0) {
    return std::nullopt;
  }
  if (fields.size() > 1) (void)absl::SimpleAtoi(fields[1], &owner.start_time);
  return owner;
}

bool OwnerIsDead(const LockOwner& owner) {
  std::optional<uint64_t> start = os::ProcessStartTime(owner.pid);
  if (!start.has_value()) return true;
  return owner.start_time != 0 && *start != owner.start_time;
}

absl::StatusOr<MkdirLock> MkdirLock::Acquire(const std::string& locks_dir, const std::string& name,
                                             absl::Duration wait) {
  if (!IsValidLockName(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lock name '", name, "' must use only letters, digits, '.', '_' and '-' (no '..')"));
  }
  absl::Status made = os::MakeDirs(locks_dir, 0755);
  if (!made.ok()) return made;
  const std::string path = absl::StrCat(locks_dir, "/", name);
  os::Clock* clock = os::RealClock();  // Monotonic: a clock jump neither waits nor gives up.
  const os::MonoTime deadline = clock->MonotonicNow() + wait;
  absl::Duration pause = absl::Milliseconds(5);
  for (;;) {
    if (os::CurrentEnv()->Mkdir(path.c_str(), 0755) == 0) {
      pid_t pid = ::getpid();
      absl::Status written = os::WriteFileAtomic(
          absl::StrCat(path, "/owner"),
          absl::StrCat(pid, " ", os::ProcessStartTime(pid).value_or(0), "\n"));
      if (!written.ok()) {
        ::rmdir(path.c_str());
        return written;
      }
      return MkdirLock(path);
    }
    if (errno != EEXIST) return absl::ErrnoToStatus(errno, absl::StrCat("mkdir ", path));
    std::optional<LockOwner> owner = ReadLockOwner(path);
    if (owner.has_value() ? OwnerIsDead(*owner) : [&] {
          struct stat st;
          return ::stat(path.c_str(), &st) == 0 &&
                 absl::Now() - absl::FromTimeT(st.st_mtime) > kOwnerlessGrace;
        }()) {
      Break(path);
      continue;
    }
    if (clock->MonotonicNow() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("lock ", name, " is held by ",
                       owner.has_value() ? absl::StrCat("pid ", owner->pid) : "a starting owner",
                       " (", path, ")"));
    }
    absl::SleepFor(std::min(pause, deadline - clock->MonotonicNow()));
    pause = std::min(pause * 2, absl::Milliseconds(200));
  }
}

void MkdirLock::Release() {
  if (path_.empty()) return;
  RemoveLockDir(path_);
  path_.clear();
}

}  // namespace fleet::fileproto
