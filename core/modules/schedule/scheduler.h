// Cron and intelligence engines: the same instances, lifecycle, logs and
// health as daemons; what differs is the trigger and the judgement of a run.
// A slot (wall clock, in the engine's time zone) becomes a monotonic
// deadline; a wall clock that is set is noticed (a timerfd with
// TFD_TIMER_CANCEL_ON_SET, and the wall-minus-monotonic offset) and the
// plans are redone, so no slot fires twice and passed ones run once or are
// skipped (the engine's `missed`). A slot that comes while the previous run
// still runs is skipped, queued or replaces it (`overlap`). Every run, and
// every slot skipped or missed, is kept in the instance's run history
// (RUN_DIR/runs/ENGINE.N.jsonl).
//
// Intelligence engines' runs are judged before they count (IntelRuns).
#ifndef FLEET_CORE_MODULES_SCHEDULE_SCHEDULER_H_
#define FLEET_CORE_MODULES_SCHEDULE_SCHEDULER_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/module/module.h"
#include "core/modules/schedule/intel_runs.h"
#include "core/modules/schedule/run_metrics.h"
#include "core/modules/schedule/track.h"
#include "proto/fleet/config/v1/config.pb.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::modules {

// A run's length for people: "316ms", "2.9s", "1m40s".
std::string Short(absl::Duration d);

class Scheduler final : public module::Module {
 public:
  explicit Scheduler(module::ModuleHost* host);
  ~Scheduler() override;

  absl::string_view name() const override { return "schedule"; }
  void OnConfig(const config::LoadedConfig& loaded) override;
  void OnInstanceAdded(const module::InstanceView& inst) override;
  void OnInstanceRemoved(const std::string& id) override;
  int OpenStdout(const module::InstanceView& inst) override;
  void OnSpawned(const module::InstanceView& inst) override;
  void OnAdopted(const module::InstanceView& inst, absl::Duration up) override;
  void OnSpawnFailed(const module::InstanceView& inst, const std::string& why) override;
  void OnExited(const module::InstanceView& inst, const os::ExitStatus& status) override;
  void OnOutput(const module::InstanceView& inst, capture::Stream stream,
                absl::string_view data) override;
  void WatchedFiles(std::vector<std::string>* paths) const override;
  void OnFileChanged(const std::string& path, bool complete) override;
  std::optional<os::MonoTime> NextDeadline() const override;
  void OnDeadline() override;
  void OnLoopEnd() override { FlushHistories(); }
  void FillInstanceStatus(const module::InstanceView& inst,
                          fleet::control::v1::InstanceStatus* out) const override;
  void FillMetrics(fleet::control::v1::GetStatusResponse* status) const override {
    FillRunMetrics(tracks_, intel_, status);
  }

  // Recent runs of target's instances, newest first (a running one first).
  absl::StatusOr<fleet::control::v1::ListRunsResponse> ListRuns(const std::string& target,
                                                                uint32_t limit);
  // Starts a run of target's instances now (their overlap policy applies).
  absl::StatusOr<fleet::control::v1::ActionResponse> RunNow(const std::string& target);

 private:
  using Plan = RunPlan;
  using Track = RunTrack;

  Track* Find(const std::string& id);
  // History, passed slots, next due: at first sight, and after the engine
  // changed.
  void PlanInstance(const std::string& id, Track* t);
  // The next slot after the last one, and when (monotonic) to fire it.
  void ScheduleNext(const std::string& id, Track* t);
  // The wall clock was set (or slewed by more than a second): re-plan.
  void CheckClockJump();
  void OnClockSet();
  // Fires a run now (overlap policy applies); slot: the one it is for.
  void FireRun(const module::InstanceView& inst, Track* t, const std::string& trigger,
               std::optional<absl::Time> slot);
  void FireRun(const std::string& id, Track* t, const std::string& trigger,
               std::optional<absl::Time> slot);
  // A run asked for is not started (overlap, budget, rate limit): recorded
  // as skipped, with why.
  void Skip(const std::string& id, Track* t, const std::string& trigger,
            std::optional<absl::Time> slot, const std::string& why);
  void OnRunStarted(const module::InstanceView& inst, Track* t, const std::string& trigger);
  // A finished run's record: its event, success bookkeeping, the history.
  void FinishRun(const module::InstanceView& inst, Track* t, fleet::control::v1::RunRecord r);
  void RecordRun(const std::string& id, Track* t, fleet::control::v1::RunRecord record);
  // A history's write result: a failing streak is said once, its end too.
  void NoteHistoryWrite(const std::string& id, Track* t, const absl::Status& written);
  void FlushHistories();
  void FillRunStatus(const Track& t, fleet::control::v1::InstanceStatus* out) const;

  module::ModuleHost* host_;
  IntelRuns intel_;
  absl::flat_hash_map<std::string, std::unique_ptr<Plan>> plans_;  // by engine
  // By instance id; a Track stays put while others come (calls back from
  // the host hold one).
  absl::node_hash_map<std::string, Track> tracks_;
  // Readable (ECANCELED) when the wall clock is set: plans are redone.
  int clock_fd_ = -1;
  // wall - monotonic at the last look, to notice the wall clock being set.
  std::optional<absl::Duration> wall_offset_;
  // This boot's id (/proc/sys/kernel/random/boot_id): @reboot runs once per boot.
  std::string boot_id_;
  // Histories that could not be written (retried every second).
  int histories_failing_ = 0;
  std::optional<os::MonoTime> flush_due_;
};

}  // namespace fleet::modules

#endif  // FLEET_CORE_MODULES_SCHEDULE_SCHEDULER_H_
