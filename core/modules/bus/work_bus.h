// The work-bus, as a module: the conductor (core/bus) runs a pass whenever
// its files change (inotify on results/ and on every worker's claim
// directory; an overflow is just another full pass), when the fleet changes
// under it (a worker exits, turns healthy or unhealthy), and at deadlines of
// its own (a retry delay, a lease check, a timeout). The conductor, with
// every read, rename and fsync it makes, lives on the bus thread: the loop
// hands it a FleetView (which capabilities have a healthy instance, which
// workers run since when) and takes back its next deadline; the bus RPCs
// run there too. A slow disk delays the bus, never supervision.
#ifndef FLEET_CORE_MODULES_BUS_WORK_BUS_H_
#define FLEET_CORE_MODULES_BUS_WORK_BUS_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/bus/conductor.h"
#include "core/metrics/series.h"
#include "core/module/module.h"
#include "core/plugin_host/worker.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::modules {

class WorkBus final : public module::Module {
 public:
  // fsync: every record the bus publishes is fsynced (off only for
  // benchmarks and fuzzing).
  WorkBus(module::ModuleHost* host, bool fsync = true);
  ~WorkBus() override;

  absl::string_view name() const override { return "bus"; }
  // The first config opens RUN_DIR/bus (a bad one: the bus is off, said in
  // fleetd's log) and watches it.
  void OnConfig(const config::LoadedConfig& loaded) override;
  void OnExit(const module::InstanceView& inst, const os::ExitStatus& status) override;
  void OnHealthChanged(const module::InstanceView& inst) override;
  std::optional<os::MonoTime> NextDeadline() const override;
  void OnDeadline() override;
  void FillMetrics(fleet::control::v1::GetStatusResponse* status) const override;

  // Any thread: runs fn on the bus thread. False (fn dropped) when the bus
  // is off or stopping.
  bool Post(std::function<void()> fn);

  // --- bus thread (Post) ---
  absl::StatusOr<fleet::control::v1::BusSubmitResponse> Submit(
      const fleet::control::v1::BusSubmitRequest& request);
  absl::StatusOr<fleet::control::v1::BusStatusResponse> Status(const std::string& run) const;
  absl::StatusOr<fleet::control::v1::ActionResponse> Cancel(const std::string& run);
  absl::StatusOr<fleet::control::v1::ActionResponse> Retry(const std::string& run,
                                                           const std::string& task);

 private:
  void Open();
  enum class Conducting { kYes, kElsewhere, kBroken };
  // Takes the bus (the lock, then the conductor reads every run back):
  // before the loop runs, or on the bus thread. kElsewhere: another
  // conductor holds it (tried again); kBroken: the bus is off (said).
  Conducting Conduct();
  // Takes RUN_DIR/bus/conductor.lock (flock; NFSv4 and CephFS pass it to
  // the other hosts). False: another conductor holds it, or it cannot be
  // taken: said once.
  bool LockBus();
  // Loop: Conduct on the bus thread; the loop learns the outcome.
  void TryConductAgain();
  void PollIfExternal();
  // Adds watches for new workers' claim directories; without inotify (or
  // out of watches) every second is a pass.
  void Watch();
  void OnWatchEvents();
  void StartPolling(const std::string& why);
  bus::FleetView View();
  // A bus call changed the conductor's state: the loop runs a pass.
  void Changed();

  // What the bus did since fleetd started (fleet_bus_*): counted on the
  // bus thread from each pass, a copy handed to the loop after it.
  struct Figures {
    std::map<std::string, int> tasks_by_state;  // in the runs the bus holds
    uint64_t requeued = 0;
    uint64_t quarantined = 0;
    // From first offered to its result, for tasks that succeeded or failed.
    metrics::Buckets latency{metrics::kDurationBounds};
  };
  // Bus thread: a pass's events and the runs after it, counted.
  void Count(const std::vector<bus::BusEvent>& events);

  module::ModuleHost* host_;
  const bool fsync_;
  Figures counting_;  // bus thread
  Figures figures_;   // loop
  std::string dir_;
  bool opened_ = false;
  // The conductor lives on worker_: only jobs posted there touch it.
  std::unique_ptr<bus::Conductor> conductor_;
  std::unique_ptr<plugin_host::SerialWorker> worker_;
  int inotify_fd_ = -1;
  // The lock and what last kept it (bus thread, or before the loop).
  int lock_fd_ = -1;
  std::string lock_error_;
  // Loop: the conductor is open (conductor_ is then only the bus thread's),
  // or when to try to take the bus again.
  bool conducting_ = false;
  std::optional<os::MonoTime> lock_retry_due_;
  // bus.external_capabilities: offered whatever this fleetd runs.
  std::set<std::string> external_;
  std::set<std::string> watched_;
  bool polling_ = false;
  std::optional<os::MonoTime> poll_due_;
  // Loop side: a pass is wanted, one is running, and when the conductor
  // said (after its last pass) a pass is next due by time alone (wall ms).
  bool dirty_ = true;
  bool pass_running_ = false;
  std::optional<int64_t> due_ms_;
};

}  // namespace fleet::modules

#endif  // FLEET_CORE_MODULES_BUS_WORK_BUS_H_
