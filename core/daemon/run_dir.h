// The run directory's file protocol, fleetd's side: one fleetd per run dir
// (an flock taken before the socket is bound), fleetd.pid, locks/, logs/.
#ifndef FLEET_CORE_DAEMON_RUN_DIR_H_
#define FLEET_CORE_DAEMON_RUN_DIR_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fleet::daemon {

// The run dir and the directories fleetd keeps in it (ctl, logs, bus, ...)
// belong to fleetd's uid, are not writable by group or others, and are not
// symlinks (the run dir itself may be reached through one). An error says
// which path and what to do.
absl::Status CheckRunDirOwnership(const std::string& run_dir);

// Held for fleetd's lifetime; releasing it (or dying) frees the run dir.
class RunDirLock {
 public:
  // Creates the layout and takes the lock. kAlreadyExists when another fleetd
  // holds it, with that fleetd's pid in the message.
  static absl::StatusOr<RunDirLock> Acquire(const std::string& run_dir);

  RunDirLock(RunDirLock&& other) noexcept : fd_(other.fd_), run_dir_(std::move(other.run_dir_)) {
    other.fd_ = -1;
  }
  RunDirLock& operator=(RunDirLock&&) = delete;
  ~RunDirLock();

  // Writes fleetd.pid ("PID STARTTIME\n") atomically.
  absl::Status WritePidFile() const;
  // Removes fleetd.pid (clean exit).
  void RemovePidFile() const;

 private:
  RunDirLock(int fd, std::string run_dir) : fd_(fd), run_dir_(std::move(run_dir)) {}
  int fd_;
  std::string run_dir_;
};

}  // namespace fleet::daemon

#endif  // FLEET_CORE_DAEMON_RUN_DIR_H_
