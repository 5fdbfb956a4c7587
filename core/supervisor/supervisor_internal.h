// The supervisor's per-engine and per-instance records (loop thread only).
#ifndef FLEET_CORE_SUPERVISOR_SUPERVISOR_INTERNAL_H_
#define FLEET_CORE_SUPERVISOR_SUPERVISOR_INTERNAL_H_

#include <signal.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/capture/log_sink.h"
#include "core/capture/record.h"
#include "core/module/module.h"
#include "core/os/cgroup.h"
#include "core/proto_time/proto_time.h"
#include "core/supervisor/containment.h"
#include "core/supervisor/lifecycle.h"
#include "proto/fleet/config/v1/config.pb.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::supervisor {

struct Instance;

// Status rows (instance_status.cc).
fleet::control::v1::InstanceState InstanceStateToProto(State s);
const char* EngineTypeName(fleet::config::v1::EngineType type);

// A uniform [0,1) source for backoff jitter, one generator per instance.
std::function<double()> Uniform01();

struct Engine {
  std::shared_ptr<const fleet::config::v1::Engine> spec;
  // Cron and intelligence engines: the scheduler module starts their runs.
  bool scheduled = false;
  std::vector<std::unique_ptr<Instance>> instances;
  // Removed from the config: instances are stopping, then the engine goes.
  bool removing = false;
  // Another engine depends on it: an event of its instances may start or
  // hold theirs.
  bool depended_on = false;
};

// One output stream of an instance: the read end of its FIFO. The epoll
// set carries its address (never odd: the low bit marks a pidfd).
struct OutputPipe {
  OutputPipe(Instance* i, capture::Stream s) : inst(i), stream(s) {}
  Instance* const inst;
  const capture::Stream stream;
  int fd = -1;
};

struct Instance {
  Instance(Engine* e, uint32_t i, LifecyclePolicy policy, std::function<double()> random01)
      : engine(e), index(i), life(policy, std::move(random01)) {}

  Engine* engine;
  uint32_t index;
  std::string id;  // "ENGINE/N"
  Lifecycle life;
  std::unique_ptr<capture::LogSink> log;
  pid_t pid = 0;
  // stdout and stderr, each through a FIFO of its own so the log tells them apart.
  OutputPipe out{this, capture::Stream::kStdout};
  OutputPipe err{this, capture::Stream::kStderr};
  // A process adopted after a fleetd restart is not our child: its exit is
  // learned from a pidfd in the epoll set.
  int pidfd = -1;
  int stop_signal = SIGTERM;
  absl::Time started_wall;
  // The operator's (or config's) wish; the lifecycle says what is.
  bool want_run = true;
  // Scaled down or removed: goes away once stopped.
  bool retire = false;
  fleet::control::v1::ExitInfo last_exit;
  bool has_exited = false;

  // Health's verdict (core/modules/health): dependents wait, the bus routes
  // nothing to it.
  bool unhealthy = false;

  // A module's SpawnGate holds its start (it WAITs): each reconcile asks again.
  bool gated = false;
  // Helper processes of its own running (a judge): it stays until they end.
  int helpers = 0;
  // The run's cgroup leaf ("" outside cgroups) and the OOM kill count where
  // it lives when it started: a SIGKILL while that count rose is the
  // kernel's OOM killer, and is said so.
  std::string run_cgroup;
  std::optional<os::OomKillCount> oom_kills_at_start;
  // Its log cannot be written (disk full, read-only, EIO): said once.
  bool log_failing = false;
  // An earlier copy killed as fleetd came back (a run the last fleetd
  // started but never recorded): SIGKILL is not death, so no new run starts
  // until these processes and cgroups are empty, and the instance never
  // has two copies, not even for the milliseconds a kill takes.
  Containment::Unowned dying;
  // When to look again (the table queues it: InstanceTable::Requeue after a change).
  std::optional<MonoTime> dying_check_due;
  // A start handed to the Spawner whose pid has not come back (its ticket;
  // 0: none). Nothing else starts it meanwhile, and it is not pruned.
  uint64_t spawning = 0;
  // Redefined while a start was in flight: that run has the old definition
  // and is restarted on the new one as soon as it is known.
  bool redefined_while_spawning = false;
};

// What modules see of inst.
module::InstanceView ViewOf(Instance& inst);
// What status shows of inst's lifecycle, last exit and log.
void FillInstanceRow(const Instance& inst, MonoTime now, fleet::control::v1::InstanceStatus* out);

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_SUPERVISOR_INTERNAL_H_
