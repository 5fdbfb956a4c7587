#include "core/os/child_waiter.h"

#include <signal.h>

namespace fleet::os {

absl::StatusOr<pid_t> ChildWaiter::Spawn(const SpawnSpec& spec) {
  fleet::MutexLock lock(&mu_);
  absl::StatusOr<pid_t> pid = os::Spawn(spec);
  if (pid.ok()) children_[*pid] = Entry{};
  return pid;
}

bool ChildWaiter::Deliver(pid_t pid, const ExitStatus& status) {
  fleet::MutexLock lock(&mu_);
  auto it = children_.find(pid);
  if (it == children_.end()) return false;
  it->second.status = status;
  return true;
}

std::optional<ExitStatus> ChildWaiter::Wait(pid_t pid, absl::Duration timeout, bool* timed_out) {
  *timed_out = false;
  fleet::MutexLock lock(&mu_);
  auto done = [this, pid]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = children_.find(pid);
    return it == children_.end() || it->second.status.has_value();
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&done), timeout)) {
    // Not delivered, so not reaped: the group id is still this child's.
    *timed_out = true;
    SignalGroup(pid, SIGKILL);
    mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(5));
  }
  auto it = children_.find(pid);
  if (it == children_.end()) return std::nullopt;
  std::optional<ExitStatus> status = it->second.status;
  children_.erase(it);
  return status;
}

}  // namespace fleet::os
