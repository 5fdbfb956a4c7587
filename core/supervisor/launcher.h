// One run of an instance, made ready to start: its argv, environment and
// working directory, its output (FIFOs that outlive fleetd, or a module's
// file for stdout), the path of a fresh cgroup leaf. The Spawner makes the
// leaf and starts it off the loop;
// what the start means for the instance (its lifecycle, events, pid record)
// is the supervisor's. Loop thread only.
#ifndef FLEET_CORE_SUPERVISOR_LAUNCHER_H_
#define FLEET_CORE_SUPERVISOR_LAUNCHER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/module/module.h"
#include "core/os/process.h"
#include "core/supervisor/containment.h"
#include "core/supervisor/output_capture.h"

namespace fleet::supervisor {

struct Instance;

class Launcher {
 public:
  using Modules = std::vector<std::unique_ptr<module::Module>>;
  // Every argument outlives the launcher.
  Launcher(const std::string& run_dir, OutputCapture* capture, Containment* containment,
           const Modules* modules, os::Clock* clock);

  // What inst's process is given: fleetd's environment (without its own
  // systemd variables), the engine's env, FLEET_ENGINE/INSTANCE/RUN_DIR,
  // and what modules add.
  std::vector<std::string> Environment(const Instance& inst) const;

  struct Run {
    os::SpawnSpec spec;
    // The child's ends of its pipes: closed once it has started (or failed to).
    std::vector<int> close_after;
    // The cgroup leaf it is to be born in ("" outside cgroups).
    std::string cgroup_leaf;
    // The FIFOs its stdout ("" when a module gave it a file) and stderr go
    // through, opened as it starts (OpenOutputPipe).
    std::string stdout_fifo;
    std::string stderr_fifo;
  };
  // inst's next run, ready to start (its last run's pipes closed); the error
  // says what failed.
  absl::StatusOr<Run> Prepare(Instance* inst);

 private:
  const std::string& run_dir_;
  OutputCapture* capture_;
  Containment* containment_;
  const Modules* modules_;
  os::Clock* clock_;
  const std::vector<std::string> base_env_;
};

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_LAUNCHER_H_
