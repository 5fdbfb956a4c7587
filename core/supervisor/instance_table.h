// The process table: engines by name, their instances by index, running
// processes by pid. Structure only: what runs, and when, is the
// supervisor's. Loop thread only.
#ifndef FLEET_CORE_SUPERVISOR_INSTANCE_TABLE_H_
#define FLEET_CORE_SUPERVISOR_INSTANCE_TABLE_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "core/supervisor/supervisor_internal.h"
#include "core/timers/deadline_queue.h"
#include "proto/fleet/config/v1/config.pb.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::supervisor {

class InstanceTable {
 public:
  // Instances' logs go to logs_dir/ENGINE.N.log.
  explicit InstanceTable(std::string logs_dir) : logs_dir_(std::move(logs_dir)) {}

  // What a config changed in the table.
  struct Applied {
    fleet::control::v1::ReloadResponse response;
    std::vector<Instance*> added;
    // Running on a definition that changed: each restarts on the new one.
    std::vector<Instance*> redefined;
  };
  // Adds, scales and marks for removal only what changed; an instance scaled
  // away or of a removed engine retires (it goes once stopped: Prune).
  Applied Apply(const fleet::config::v1::FleetConfig& config);

  // Retired instances that have stopped leave, and removed engines once
  // empty. Returns the ids that left.
  std::vector<std::string> Prune();

  // "ENGINE/N" (or the engine and index), retiring ones included, or null.
  Instance* Find(const std::string& id) const;
  Instance* At(const std::string& engine, uint32_t index) const;
  const Engine* FindEngine(const std::string& name) const;
  // An operator's target: "ENGINE/N", "ENGINE" (every replica) or "all";
  // retiring instances are not targets. kNotFound says what exists.
  absl::StatusOr<std::vector<Instance*>> Resolve(const std::string& target) const;

  // Processes this fleetd started or took back.
  void AddPid(pid_t pid, Instance* inst) { by_pid_[pid] = inst; }
  // The instance running pid, no longer listed; null for another pid.
  Instance* TakePid(pid_t pid);
  bool HasPid(pid_t pid) const { return by_pid_.count(pid) > 0; }

  // Helper processes modules started for an instance (a judge): it stays
  // in the table until they end.
  using OnHelperExit = std::function<void(const os::ExitStatus&)>;
  void AddHelper(pid_t pid, Instance* inst, OnHelperExit on_exit);
  // The helper running pid ends (no longer listed): what to call, if it is one.
  std::optional<OnHelperExit> TakeHelper(pid_t pid);
  std::vector<pid_t> HelpersOf(const Engine& engine) const;

  // Ordered by name, so status lists engines the same way every time.
  const std::map<std::string, std::unique_ptr<Engine>>& engines() const { return engines_; }
  template <typename Fn>
  void ForEach(Fn fn) const {
    for (const auto& [name, engine] : engines_) {
      for (const auto& inst : engine->instances) fn(inst.get());
    }
  }

  // --- what the loop must look at, kept as it happens (each instance's
  // lifecycle tells the table of its events), so no pass scans them all ---

  // The earliest deadline of any instance: its lifecycle's or its dying check.
  std::optional<MonoTime> NextDeadline() const { return deadlines_.Next(); }
  // The instances due at or before now; each is queued again by its next event
  // or Requeue.
  std::vector<Instance*> TakeDue(MonoTime now) { return deadlines_.TakeDue(now); }
  // Queues inst's deadline again (after its dying check moved, or a TakeDue).
  void Requeue(Instance* inst);
  // inst must be reconciled (a command changed what is wanted of it).
  void MarkChanged(Instance* inst) { changed_.insert(inst); }
  // Every instance must be reconciled: the config, or a dependency's health,
  // changed.
  void MarkAllChanged() { all_changed_ = true; }
  // What to reconcile, in the table's order: the instances that had an event
  // (or were marked) since the last call, those waiting (each reconcile asks
  // their gates again), or all of them when so marked.
  std::vector<Instance*> TakeChanged();

  // Something of engine still runs, is due to, or has a helper running.
  static bool Alive(const Engine& engine);
  bool AnyAlive() const;
  // Empty when every engine `engine` depends on is up; else who it waits for.
  std::string UnmetDependency(const Engine& engine) const;

 private:
  void SetSpec(Engine* engine, const fleet::config::v1::Engine& spec);
  void AddInstances(Engine* engine, uint32_t count, std::vector<Instance*>* added);
  // inst's lifecycle had an event.
  void OnLifecycleEvent(Instance* inst);
  void Forget(Instance* inst);

  const std::string logs_dir_;
  std::map<std::string, std::unique_ptr<Engine>> engines_;
  absl::flat_hash_map<pid_t, Instance*> by_pid_;
  timers::DeadlineQueue<Instance*> deadlines_;
  absl::flat_hash_set<Instance*> changed_;
  absl::flat_hash_set<Instance*> waiting_;
  bool all_changed_ = false;
  // Retired instances not yet pruned: Prune looks only while there are some.
  size_t retiring_ = 0;
  struct Helper {
    Instance* inst;
    OnHelperExit on_exit;
  };
  absl::flat_hash_map<pid_t, Helper> helpers_;
};

// Where a status answer built in slices has got to.
struct StatusCursor {
  std::string engine;      // the engine whose rows come next ("": the first)
  uint32_t index = 0;      // its first instance not yet in the answer
  uint32_t instances = 0;  // rows so far
  bool done = false;
};
// The engines and instances of a status answer, each row as modules fill it
// in (instance_status.cc): at most max_rows more, from *cursor on, which
// moves past them. Engines and instances that come or go between slices are
// shown or not; none is shown twice.
void FillEngines(const InstanceTable& table,
                 const std::vector<std::unique_ptr<module::Module>>& modules, MonoTime now,
                 size_t max_rows, StatusCursor* cursor,
                 fleet::control::v1::GetStatusResponse* status);

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_INSTANCE_TABLE_H_
