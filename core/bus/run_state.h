// One DAG run's task states, as the conductor keeps them: which tasks are
// ready (trigger rules over how their needs ended), attempts and retries,
// skip and failure propagation, cancel and operator retry. Pure: no files,
// no clock (times are passed in, ms since the epoch); the conductor feeds it
// what the files say, so a restarted fleetd rebuilds it from them.
#ifndef FLEET_CORE_BUS_RUN_STATE_H_
#define FLEET_CORE_BUS_RUN_STATE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "proto/fleet/bus/v1/bus.pb.h"

namespace fleet::bus {

enum class TaskState {
  kPending,  // waiting for its needs
  kReady,    // may be offered (published), or waits for its retry delay
  kClaimed,  // a worker has it
  kSucceeded,
  kFailed,
  kSkipped,
  kUpstreamFailed,
  kCancelled,
};
const char* TaskStateName(TaskState state);
std::optional<TaskState> TaskStateFromName(const std::string& name);
bool Terminal(TaskState state);

struct TaskStatus {
  TaskState state = TaskState::kPending;
  // Attempts published so far; the current one when ready or claimed.
  uint32_t attempt = 0;
  // Failed attempts (retries consume these; a lost claim does not).
  uint32_t failures = 0;
  bool published = false;  // the current attempt's task file is out
  std::string worker;
  std::string reason;            // why it is in this state, for the operator
  std::string output;            // a success's result
  int64_t retry_at_ms = 0;       // ready, but not before this (a failed attempt's delay)
  int64_t waiting_since_ms = 0;  // ready, but no healthy worker for it yet
  int64_t claimed_ms = 0;
  int64_t started_ms = 0;  // first published
  int64_t ended_ms = 0;
};

class RunState {
 public:
  explicit RunState(fleet::bus::v1::Dag dag);

  const fleet::bus::v1::Dag& dag() const { return dag_; }
  const fleet::bus::v1::Task& task(const std::string& id) const;
  const TaskStatus& status(const std::string& id) const { return status_[index_.at(id)]; }
  bool Has(const std::string& id) const { return index_.count(id) > 0; }

  // Moves pending tasks whose needs have all ended to READY or to a
  // terminal state by their trigger rule, as far as that propagates.
  void Advance(int64_t now_ms);
  // READY tasks whose current attempt is not published yet and whose retry
  // delay has passed: what the conductor should offer now.
  std::vector<std::string> ToPublish(int64_t now_ms) const;

  // The conductor offered the current attempt (attempt numbers from 1).
  void Published(const std::string& id, int64_t now_ms);
  // A worker renamed the task file into its cur/ directory.
  void Claimed(const std::string& id, const std::string& worker, int64_t now_ms);
  // A result for `attempt`: kFailedPrecondition when it is not the current
  // attempt (a re-queued task's late result) or the task has ended (a
  // duplicate): such results are not absorbed.
  absl::Status Result(const std::string& id, uint32_t attempt, bool ok, const std::string& output,
                      const std::string& error, int64_t now_ms);
  // The claim is lost (worker died, lease lapsed): offered again as the
  // next attempt, without counting as a failure.
  void Requeue(const std::string& id, const std::string& why, int64_t now_ms);
  // Ready, but no worker with its capability is healthy yet (one is
  // starting): it waits, and says so.
  void Waiting(const std::string& id, const std::string& why, int64_t now_ms);
  // Cannot be offered (no healthy worker has its capability).
  void Skip(const std::string& id, const std::string& why, int64_t now_ms);
  // Every task not ended yet ends cancelled.
  void Cancel(const std::string& why, int64_t now_ms);
  // The operator: a failed, upstream_failed, skipped or cancelled task, and
  // what ended because of it downstream, go back to pending.
  absl::Status Retry(const std::string& id, int64_t now_ms);

  bool Done() const;
  // What the conductor persists, and how it comes back after a restart: a
  // snapshot of every task, then (journal) the tasks changed since.
  fleet::bus::v1::RunSnapshot Snapshot() const;
  absl::Status Restore(const fleet::bus::v1::RunSnapshot& snapshot);
  fleet::bus::v1::TaskSnapshot TaskSnapshotOf(const std::string& id) const;
  absl::Status Apply(const fleet::bus::v1::TaskSnapshot& task);
  // The tasks changed since the last call, in the order they first changed.
  std::vector<std::string> TakeChanged();
  // Counts by state name, for status.
  std::map<std::string, int> Counts() const;

 private:
  void End(const std::string& id, TaskState state, std::string reason, int64_t now_ms);

  TaskStatus& St(const std::string& id) { return status_[index_.at(id)]; }
  void Touch(const std::string& id);

  fleet::bus::v1::Dag dag_;
  // Tasks by position in the DAG: their status and the positions they need
  // (a pass over a run is a walk over vectors, not name lookups).
  std::map<std::string, int> index_;
  std::vector<TaskStatus> status_;
  std::vector<std::vector<int>> needs_;
  // Something changed since the last Advance: pending tasks may be decided.
  bool advance_due_ = true;
  std::vector<std::string> changed_;
  std::set<std::string> changed_set_;
};

}  // namespace fleet::bus

#endif  // FLEET_CORE_BUS_RUN_STATE_H_
