// The conductor: fleetd's side of the work-bus. It keeps every submitted
// run (a RunState each), offers ready tasks to capabilities that have a
// healthy worker (and skips those that have none), absorbs results, re-queues
// claims whose worker died or whose lease lapsed, fails claims past their
// timeout, and saves each run's state after every change. State, not events:
// after a restart it goes on from RUN_DIR/bus (Init), results written while
// fleetd was down included. Not thread-safe: the supervision loop's.
#ifndef FLEET_CORE_BUS_CONDUCTOR_H_
#define FLEET_CORE_BUS_CONDUCTOR_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/bus/mailbox.h"
#include "core/bus/run_state.h"
#include "proto/fleet/bus/v1/bus.pb.h"

namespace fleet::bus {

// What the conductor needs to know about the fleet at each pass.
struct FleetView {
  // Capabilities some engine declares, those with a healthy instance now,
  // and those with an instance on its way (starting, restarting) that may
  // become healthy: their tasks wait (up to the task's timeout) instead of
  // being skipped.
  std::set<std::string> declared;
  std::set<std::string> healthy;
  std::set<std::string> coming;
  // Worker names ("ENGINE.N") of the fleet's instances, and when their
  // current process started (wall ms; 0: not running). A claim last renewed
  // before its worker's current process started was held by one that died.
  std::map<std::string, int64_t> workers;
};

struct BusEvent {
  std::string subject;  // "bus/RUN" or "bus/RUN/TASK"
  std::string kind;     // task_offered, task_skipped, task_succeeded, ...
  std::string message;
};

class Conductor {
 public:
  // lease: how long a claim lives without a heartbeat.
  Conductor(std::string bus_dir, bool fsync, int64_t lease_ms = 60000);

  // Creates the directories and takes back every run saved there. Errors
  // for single runs (a damaged state file) are returned as events; the
  // others load.
  absl::Status Init(std::vector<BusEvent>* events);

  // A new run of dag; run: its name (default: the DAG's name and a number).
  absl::StatusOr<std::string> Submit(fleet::bus::v1::Dag dag, const std::string& run,
                                     int64_t now_ms);
  absl::Status Cancel(const std::string& run, int64_t now_ms);
  absl::Status Retry(const std::string& run, const std::string& task, int64_t now_ms);

  // One pass over the files; what happened, as events.
  std::vector<BusEvent> Pass(int64_t now_ms, const FleetView& view);
  // When a pass is next due by time alone (a retry delay, a lease, a
  // timeout); nullopt when only files can change things.
  std::optional<int64_t> NextDeadline() const;

  const std::map<std::string, std::unique_ptr<RunState>>& runs() const { return runs_; }
  const Mailbox& mailbox() const { return mailbox_; }

 private:
  struct Run {
    int64_t submitted_ms = 0;
    size_t journal_lines = 0;  // in runs/RUN/journal.jsonl since the snapshot
  };
  // Persists what changed in run: journal lines, or a fresh snapshot.
  absl::Status Save(const std::string& run);
  void AbsorbResults(int64_t now_ms, std::vector<BusEvent>* events);
  void CheckClaims(int64_t now_ms, const FleetView& view, std::vector<BusEvent>* events);
  void Offer(int64_t now_ms, const FleetView& view, std::vector<BusEvent>* events);

  Mailbox mailbox_;
  int64_t lease_ms_;
  std::map<std::string, std::unique_ptr<RunState>> runs_;
  std::map<std::string, Run> meta_;
  std::set<std::string> dirty_;  // runs to save after this pass
  // Runs whose last save failed: saved again (as a full snapshot) at every
  // pass, and their results stay in results/ until they are.
  std::set<std::string> unsaved_;
  // Results applied to an unsaved run: left in results/ (not read again)
  // and absorbed once their run is saved.
  std::set<std::string> held_;
  bool waiting_ = false;         // a task waits for a worker: look again soon
  int64_t recheck_at_ms_ = 0;    // leases and waiting tasks: the next look
  int64_t last_pass_ms_ = 0;     // the now of the last Pass
};

}  // namespace fleet::bus

#endif  // FLEET_CORE_BUS_CONDUCTOR_H_
