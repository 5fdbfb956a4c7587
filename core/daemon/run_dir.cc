#include "core/daemon/run_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "core/defaults/defaults.h"
#include "core/log/log.h"
#include "core/os/files.h"
#include "core/os/process.h"
#include "core/status/macros.h"

namespace fleet::daemon {

namespace {

// The directories fleetd keeps in a run dir (besides files at its top).
constexpr const char* kRunSubdirs[] = {"ctl",  "locks", "logs",     "instances", "pipes",
                                       "runs", "bus",   "recovery", "state"};

// A directory another user controls lets that user plant symlinks that a
// root fleetd would then write through or chmod (logs/x.log -> /etc/shadow):
// refused, with what to do about it.
absl::Status CheckOwnDirectory(const std::string& path, bool follow) {
  struct stat st;
  if ((follow ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st)) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::ErrnoToStatus(errno, absl::StrCat("stat ", path));
  }
  if (S_ISLNK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path,
                     " is a symlink: fleetd does not follow symlinks inside its run dir; "
                     "remove it"));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is not a directory"));
  }
  if (st.st_uid != ::geteuid()) {
    return absl::PermissionDeniedError(
        absl::StrCat(path, " belongs to uid ", st.st_uid, ", not to fleetd's uid ", ::geteuid(),
                     ": another user could plant files in it; chown it or choose another run dir"));
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        path, " is writable by its group or by others (mode ", absl::Hex(st.st_mode & 07777),
        "): another user could plant files in it; chmod go-w it"));
  }
  return absl::OkStatus();
}

// A fleetd killed while it started a run leaves a copy of the lock with that
// child until it execs (a clone holds every descriptor until then): a few
// milliseconds, longer on a loaded machine. A fleetd restarted at once
// waits that out instead of refusing.
constexpr absl::Duration kDeadOwnersChildren = absl::Seconds(3);

// "PID START_TIME\n": anything longer is not fleetd's (a worker can write
// the run directory), and a FIFO or symlink there is refused, not waited on.
constexpr size_t kPidFileMax = 64;

// The pid file names a process that still runs (the same one: its start
// time matches). Without a pid file, assume it does.
bool OwnerAlive(const std::string& run_dir) {
  absl::StatusOr<std::string> text = os::ReadUntrustedFile(defaults::PidFile(run_dir), kPidFileMax);
  if (!text.ok()) return true;
  std::vector<std::string> fields =
      absl::StrSplit(*text, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  pid_t pid = 0;
  uint64_t started = 0;
  if (fields.size() < 2 || !absl::SimpleAtoi(fields[0], &pid) || pid <= 0 ||
      !absl::SimpleAtoi(fields[1], &started)) {
    return true;
  }
  return os::ProcessStartTime(pid).value_or(0) == started;
}

}  // namespace

absl::Status CheckRunDirOwnership(const std::string& run_dir) {
  // The run dir itself may be reached through a symlink the operator made.
  FLEET_RETURN_IF_ERROR(CheckOwnDirectory(run_dir, /*follow=*/true));
  for (const char* sub : kRunSubdirs) {
    FLEET_RETURN_IF_ERROR(CheckOwnDirectory(os::JoinPath(run_dir, sub), /*follow=*/false));
  }
  return absl::OkStatus();
}

absl::StatusOr<RunDirLock> RunDirLock::Acquire(const std::string& run_dir) {
  // Private by default: what workers print, their tasks and results, and
  // the state they share are the operator's alone.
  FLEET_RETURN_IF_ERROR(os::MakeDirs(run_dir, 0700));
  FLEET_RETURN_IF_ERROR(CheckRunDirOwnership(run_dir));
  FLEET_RETURN_IF_ERROR(os::MakeDirs(defaults::ControlDir(run_dir), 0700));
  FLEET_RETURN_IF_ERROR(os::MakeDirs(defaults::LocksDir(run_dir), 0700));
  FLEET_RETURN_IF_ERROR(os::MakeDirs(defaults::LogsDir(run_dir), 0700));
  const std::string lock_path = defaults::LockFile(run_dir);
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", lock_path));
  const absl::Time give_up = absl::Now() + kDeadOwnersChildren;
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err == EWOULDBLOCK && !OwnerAlive(run_dir) && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(20));
      continue;
    }
    ::close(fd);
    if (err != EWOULDBLOCK) return absl::ErrnoToStatus(err, absl::StrCat("flock ", lock_path));
    absl::StatusOr<std::string> pid =
        os::ReadUntrustedFile(defaults::PidFile(run_dir), kPidFileMax);
    std::string who =
        pid.ok() ? absl::StrCat(" (pid ",
                                absl::StripAsciiWhitespace(pid->substr(0, pid->find(' '))), ")")
                 : "";
    return absl::AlreadyExistsError(absl::StrCat("another fleetd", who, " is running on ", run_dir,
                                                 "; stop it first (fleetctl shutdown)"));
  }
  const std::string stop = defaults::StopFlag(run_dir);
  if (::unlink(stop.c_str()) == 0) {
    log::Info(absl::StrCat("removed a stop flag left from before: ", stop));
  }
  return RunDirLock(fd, run_dir);
}

RunDirLock::~RunDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status RunDirLock::WritePidFile() const {
  pid_t pid = ::getpid();
  return os::WriteFileAtomic(defaults::PidFile(run_dir_),
                             absl::StrCat(pid, " ", os::ProcessStartTime(pid).value_or(0), "\n"),
                             0644);  // Scripts of other users may ask who runs here.
}

void RunDirLock::RemovePidFile() const { ::unlink(defaults::PidFile(run_dir_).c_str()); }

}  // namespace fleet::daemon
