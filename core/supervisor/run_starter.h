// Starting runs: a run prepared (Launcher), started off the loop (Spawner),
// and what the start means once its pid is back on the loop: the pid
// known, its pipes read, its record kept, its lifecycle told, the modules
// told. Deciding *whether* to start is the supervisor's (Perform).
#ifndef FLEET_CORE_SUPERVISOR_RUN_STARTER_H_
#define FLEET_CORE_SUPERVISOR_RUN_STARTER_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "core/os/process.h"
#include "core/supervisor/adoption.h"
#include "core/supervisor/core_parts.h"
#include "core/supervisor/spawner.h"

namespace fleet::supervisor {

// Loop thread only (the Spawner's own thread aside).
class RunStarter {
 public:
  // pass_over: the loop's pass budget is spent. on_exit: a run that exited
  // before its start reached the loop (its exit is handled as any other).
  RunStarter(const CoreParts& parts, Adoption* adoption, std::function<bool()> pass_over,
             std::function<void(Instance*, const os::ExitStatus&)> on_exit);

  // A new pass of the loop began.
  void NewPass() { starts_this_pass_ = 0; }
  bool StartedThisPass() const { return starts_this_pass_ > 0; }

  // Prepares inst's run and starts it: off the loop, or here when an
  // operator waits for the answer (`now`).
  void Start(Instance* inst, bool now);
  // The child of a start not yet back on the loop may exit first.
  void KeepUnclaimedExit(pid_t pid, const os::ExitStatus& status) {
    spawner_.KeepUnclaimedExit(pid, status);
  }

 private:
  // The Spawner's answer, on the loop: the run's bookkeeping, or its failure.
  void OnStarted(Spawner::Done done);
  void Failed(Instance* inst, const absl::Status& status);
  void Emit(const std::string& subject, const std::string& kind, const std::string& message) {
    p_.events->Add(subject, kind, message);
  }

  const CoreParts p_;
  Adoption* adoption_;
  std::function<void(Instance*, const os::ExitStatus&)> on_exit_;
  // Tickets tell one start of an instance from the next.
  uint64_t tickets_ = 0;
  int starts_this_pass_ = 0;
  Spawner spawner_;
};

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_RUN_STARTER_H_
