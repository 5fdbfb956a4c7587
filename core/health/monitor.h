// Runs health-plugin calls off the supervision loop: one worker thread takes
// jobs in order and hands each result to a callback (which posts it back to
// the loop). In-process plugin calls cannot be interrupted; the loop applies
// the deadline by treating a late answer as "did not answer".
#ifndef FLEET_CORE_HEALTH_MONITOR_H_
#define FLEET_CORE_HEALTH_MONITOR_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/os/child_waiter.h"
#include "core/os/process.h"
#include "core/plugin_host/caller.h"
#include "core/plugin_host/plugin.h"
#include "core/plugin_host/worker.h"
#include "proto/fleet/plugin/v1/health.pb.h"

namespace fleet::health {

struct CheckJob {
  std::string instance_id;
  uint64_t seq = 0;  // lets the loop drop answers about an older process
  std::string check;
  absl::Duration timeout = absl::Seconds(1);
  fleet::plugin::v1::HealthCheckRequest request;
  // The exec probe to run first (empty argv: none); its result goes into
  // request.exec. output_fd is set by the monitor.
  os::SpawnSpec exec;
};

struct CheckOutcome {
  std::string instance_id;
  uint64_t seq = 0;
  absl::StatusOr<fleet::plugin::v1::HealthCheckResult> result;
};

// Thread-safe: Submit from any thread; the callback runs on the worker.
class HealthMonitor {
 public:
  // children: where exec probes are spawned, so fleetd's reaper hands their
  // exits back (may be null: exec probes then report that they cannot run).
  HealthMonitor(std::function<void(CheckOutcome)> on_outcome, os::ChildWaiter* children);
  // Stops the worker after the call in progress. A call hung in an
  // in-process plugin is not waited for beyond a few seconds (fleetd must be
  // able to exit); the worker is then abandoned.
  ~HealthMonitor();

  // Before the first Submit: adds a check by name. `library` keeps an
  // in-process plugin's shared object loaded (null for isolated ones).
  void AddCheck(const std::string& name, std::unique_ptr<plugin_host::PluginCaller> caller,
                std::unique_ptr<plugin_host::Plugin> library = nullptr);
  bool HasCheck(const std::string& name) const;
  void Submit(CheckJob job);

 private:
  void Run(CheckJob& job);
  void RunExecProbe(CheckJob& job);

  std::function<void(CheckOutcome)> on_outcome_;
  os::ChildWaiter* children_;
  // Written before the worker reads (AddPlugin precedes Submit).
  std::map<std::string, std::unique_ptr<plugin_host::PluginCaller>> checks_;
  std::vector<std::unique_ptr<plugin_host::Plugin>> plugins_;
  plugin_host::SerialWorker worker_;
};

}  // namespace fleet::health

#endif  // FLEET_CORE_HEALTH_MONITOR_H_
