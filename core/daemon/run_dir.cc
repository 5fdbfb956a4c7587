#include "core/daemon/run_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/defaults/defaults.h"
#include "core/log/log.h"
#include "core/os/files.h"
#include "core/os/process.h"
#include "core/status/macros.h"

namespace fleet::daemon {

absl::StatusOr<RunDirLock> RunDirLock::Acquire(const std::string& run_dir) {
  FLEET_RETURN_IF_ERROR(os::MakeDirs(run_dir, 0755));
  FLEET_RETURN_IF_ERROR(os::MakeDirs(defaults::ControlDir(run_dir), 0700));
  FLEET_RETURN_IF_ERROR(os::MakeDirs(defaults::LocksDir(run_dir), 0755));
  FLEET_RETURN_IF_ERROR(os::MakeDirs(defaults::LogsDir(run_dir), 0755));
  const std::string lock_path = defaults::LockFile(run_dir);
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", lock_path));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err != EWOULDBLOCK) return absl::ErrnoToStatus(err, absl::StrCat("flock ", lock_path));
    absl::StatusOr<std::string> pid = os::ReadFile(defaults::PidFile(run_dir));
    std::string who = pid.ok() ? absl::StrCat(" (pid ", absl::StripAsciiWhitespace(
                                                            pid->substr(0, pid->find(' '))),
                                              ")")
                               : "";
    return absl::AlreadyExistsError(absl::StrCat("another fleetd", who, " is running on ",
                                                 run_dir, "; stop it first (fleetctl shutdown)"));
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
                             absl::StrCat(pid, " ", os::ProcessStartTime(pid).value_or(0), "\n"));
}

void RunDirLock::RemovePidFile() const { ::unlink(defaults::PidFile(run_dir_).c_str()); }

}  // namespace fleet::daemon
