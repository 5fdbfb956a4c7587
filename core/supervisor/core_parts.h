// The supervision core's parts, as the classes that work over them
// (CoreHost, Adoption) are given them. Loop thread only.
#ifndef FLEET_CORE_SUPERVISOR_CORE_PARTS_H_
#define FLEET_CORE_SUPERVISOR_CORE_PARTS_H_

#include <functional>
#include <optional>
#include <string>

#include "core/module/module.h"
#include "core/supervisor/containment.h"
#include "core/supervisor/event_log.h"
#include "core/supervisor/event_loop.h"
#include "core/supervisor/file_watch.h"
#include "core/supervisor/instance_table.h"
#include "core/supervisor/launcher.h"
#include "core/supervisor/lifecycle.h"
#include "core/supervisor/output_capture.h"

namespace fleet::supervisor {

// The loop's facts its host reads, and the flags the host raises.
struct LoopState {
  MonoTime now;
  bool shutting_down = false;
  // Something other than output happened: reconcile and recompute deadlines.
  bool dirty = true;
  // The set of watched files may have changed.
  bool rewatch = true;
  // The last time the loop itself did not run (fleetd SIGSTOPped, the
  // machine suspended, fleetd starved of CPU).
  std::optional<module::ModuleHost::Stall> last_stall;
};

struct CoreParts {
  std::string run_dir;
  os::Clock* clock;
  EventLog* events;
  EventLoop* loop;
  InstanceTable* table;
  FileWatch* watch;
  OutputCapture* capture;
  Containment* containment;
  Launcher* launcher;
  const Launcher::Modules* modules;
  LoopState* state;
  // Carries out what the lifecycle answered for an instance.
  std::function<void(Instance*, Action)> perform;
};

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_CORE_PARTS_H_
