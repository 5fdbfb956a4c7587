// Intelligence engines: a run is a call to an LLM CLI. Its answer (stdout)
// goes to RUN_DIR/runs/ENGINE.N.answer, watched so a run that passes
// output.max_size is stopped at once. After the run the answer is judged:
// rate limited (the next slots are skipped for a growing backoff), the
// declared checks, then the optional judge command (the answer on its
// stdin, its own deadline; exit 0 accepts, a "score: X" line is kept). An
// accepted answer is delivered atomically where declared. Budgets: runs per
// calendar day. Part of the schedule module; loop thread only.
#ifndef FLEET_CORE_MODULES_SCHEDULE_INTEL_RUNS_H_
#define FLEET_CORE_MODULES_SCHEDULE_INTEL_RUNS_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/module/module.h"
#include "core/modules/schedule/track.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::modules {

// RUN_DIR/runs/ENGINE.N.answer: an intelligence run's stdout.
std::string AnswerPath(const std::string& run_dir, const std::string& engine, uint32_t index);

class IntelRuns {
 public:
  // find: the track of an instance id, or null. finish: a judged run's
  // record, to be counted like any other run.
  using Find = std::function<RunTrack*(const std::string& id)>;
  using Finish =
      std::function<void(const module::InstanceView&, RunTrack*, fleet::control::v1::RunRecord)>;
  IntelRuns(module::ModuleHost* host, Find find, Finish finish)
      : host_(host), find_(std::move(find)), finish_(std::move(finish)) {}

  // The answer file as the run's stdout (-1: the log takes it).
  int OpenStdout(const module::InstanceView& inst, RunTrack* t);
  static void CloseAnswer(RunTrack* t);
  // A run starts: what the last one left is forgotten.
  static void OnRunStarted(RunTrack* t);
  void OnStderr(RunTrack* t, absl::string_view data);
  // An answer file changed (watched): a run over the cap is stopped.
  void OnAnswerChanged(const std::string& path);
  // A run is skipped for the budget or a rate limit: why, or "".
  std::string BudgetRefusal(const RunTrack& t) const;
  // Runs t may still make today (max_runs_per_day); nullopt without a budget.
  std::optional<uint32_t> BudgetRemaining(const RunTrack& t) const;
  // The run ended with r (its exit's verdict): the answer is judged, and
  // finish is called with the verdict (at once, or when the judge ends).
  void AfterRun(const module::InstanceView& inst, RunTrack* t, fleet::control::v1::RunRecord r,
                const os::ExitStatus& status);
  // A judge past its deadline is killed (its exit comes back as a rejection).
  void KillLateJudge(RunTrack* t);

 private:
  void CheckAnswerSize(const std::string& id, RunTrack* t);
  void OnJudgeExit(const std::string& id, const os::ExitStatus& status);
  void Accept(const module::InstanceView& inst, RunTrack* t, fleet::control::v1::RunRecord r,
              const std::string& answer);

  module::ModuleHost* host_;
  Find find_;
  Finish finish_;
};

}  // namespace fleet::modules

#endif  // FLEET_CORE_MODULES_SCHEDULE_INTEL_RUNS_H_
