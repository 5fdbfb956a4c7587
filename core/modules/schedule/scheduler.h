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
// Intelligence engines (intel.cc): a run is a call to an LLM CLI. Its
// answer (stdout) goes to RUN_DIR/runs/ENGINE.N.answer, watched so a run
// that passes output.max_size is stopped at once. After the run the answer
// is judged: rate limited (the next slots are skipped for a growing
// backoff), the declared checks, then the optional judge command (the
// answer on its stdin, its own deadline; exit 0 accepts, a "score: X" line
// is kept). An accepted answer is delivered atomically where declared.
// Budgets: runs per calendar day.
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
#include "core/modules/schedule/run_history.h"
#include "core/schedule/cron.h"
#include "proto/fleet/config/v1/config.pb.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::modules {

// A run's length for people: "316ms", "2.9s", "1m40s".
std::string Short(absl::Duration d);

// RUN_DIR/runs/ENGINE.N.answer: an intelligence run's stdout.
std::string AnswerPath(const std::string& run_dir, const std::string& engine, uint32_t index);

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

  // Recent runs of target's instances, newest first (a running one first).
  absl::StatusOr<fleet::control::v1::ListRunsResponse> ListRuns(const std::string& target,
                                                                uint32_t limit);
  // Starts a run of target's instances now (their overlap policy applies).
  absl::StatusOr<fleet::control::v1::ActionResponse> RunNow(const std::string& target);

 private:
  // A scheduled engine's timing, from its spec (validated at load).
  struct Plan {
    fleet::config::v1::Engine spec;
    schedule::Schedule schedule;
    absl::TimeZone zone;
    absl::Duration jitter;
    // No successful run for this long: unhealthy (overdue).
    absl::Duration expected_period = absl::InfiniteDuration();
    bool intelligence = false;
  };
  // A scheduled instance's runs.
  struct Track {
    const Plan* plan = nullptr;
    std::string engine;
    uint32_t index = 0;
    std::unique_ptr<RunHistory> history;
    // Its file could not be written: said once, retried every second.
    bool history_failing = false;
    // The slot of the last run (or skipped/missed slot), wall clock.
    std::optional<absl::Time> last_slot;
    std::optional<absl::Time> next_slot;
    std::optional<os::MonoTime> due;  // next_slot (plus jitter) on the monotonic clock
    // What fires at `due`: "schedule", "missed" or "reboot", and for which slot.
    std::string due_trigger;
    std::optional<absl::Time> due_slot;
    // What the start being asked for is (consumed when the run starts).
    std::string start_trigger;
    std::optional<absl::Time> start_slot;
    // overlap: queue: one run waits for the current one.
    bool queued = false;
    std::string queued_trigger;
    std::optional<absl::Time> queued_slot;
    // overlap: replace: the current run is being stopped for a new one.
    bool replacing = false;
    bool in_run = false;
    fleet::control::v1::RunRecord current;
    uint64_t output_bytes = 0;  // of the current run
    // Why the last slot or `fleetctl run` was skipped (budget, rate limit, overlap).
    std::string last_skip;
    // Intelligence: the answer passed output.max_size and the run was stopped.
    bool over_cap = false;
    // The answer file the running process writes (fleetd's own descriptor
    // of it: its size is read with fstat, whatever the worker does to the
    // path); -1 outside a run, or for a run adopted after a restart.
    int answer_fd = -1;
    std::string stderr_tail;  // the last few KB, for the rate-limit pattern
    // A judge is looking at the answer of `judged` (verdict "judging").
    bool judging = false;
    pid_t judge_pid = 0;
    std::optional<os::MonoTime> judge_deadline;
    bool judge_timed_out = false;
    fleet::control::v1::RunRecord judged;
    std::string judged_answer;  // what the judge was given (delivered if it accepts)
    // Rate limited: slots are skipped until then; the streak doubles it.
    uint32_t rate_limited_streak = 0;
    std::optional<os::MonoTime> rate_limited_until;
    std::optional<absl::Time> last_success;
    absl::Time watched_since;  // wall: overdue counts from here with no success
    bool overdue = false;
    std::string overdue_why;
  };

  Track* Find(const std::string& id);
  static void CloseAnswer(Track* t);
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

  // intel.cc
  // A run is skipped for the budget or a rate limit: why, or "".
  std::string BudgetRefusal(Track* t);
  void IntelAfterRun(const module::InstanceView& inst, Track* t, fleet::control::v1::RunRecord r,
                     const os::ExitStatus& status);
  void CheckAnswerSize(const std::string& id, Track* t);
  void OnJudgeExit(const std::string& id, const os::ExitStatus& status);
  void AcceptAnswer(const module::InstanceView& inst, Track* t, fleet::control::v1::RunRecord r,
                    const std::string& answer);
  void RunJudgeTimers();

  module::ModuleHost* host_;
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
