// Children started off the supervision loop (exec health probes) whose exit
// the loop's reaper must hand over rather than discard. fleetd reaps every
// child it has (it is a subreaper), so a thread cannot waitpid its own.
#ifndef FLEET_CORE_OS_CHILD_WAITER_H_
#define FLEET_CORE_OS_CHILD_WAITER_H_

#include <sys/types.h>

#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/concurrency/mutex.h"
#include "absl/time/time.h"
#include "core/os/process.h"

namespace fleet::os {

// Thread-safe.
class ChildWaiter {
 public:
  // Spawns and registers in one step, so the reaper can never see the child
  // before it is known here.
  absl::StatusOr<pid_t> Spawn(const SpawnSpec& spec);
  // From the reaper: true when pid was registered (its status is kept).
  bool Deliver(pid_t pid, const ExitStatus& status);
  // Waits for pid's exit; on timeout kills its process group (while it is
  // still unreaped, so the pid cannot have been reused) and waits for that.
  // nullopt if it was not registered. Forgets pid either way.
  std::optional<ExitStatus> Wait(pid_t pid, absl::Duration timeout, bool* timed_out);

 private:
  struct Entry {
    std::optional<ExitStatus> status;
  };
  fleet::Mutex mu_;
  absl::flat_hash_map<pid_t, Entry> children_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fleet::os

#endif  // FLEET_CORE_OS_CHILD_WAITER_H_
