// What the schedule module keeps per engine (its plan) and per instance
// (its runs). Loop thread only.
#ifndef FLEET_CORE_MODULES_SCHEDULE_TRACK_H_
#define FLEET_CORE_MODULES_SCHEDULE_TRACK_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "core/metrics/series.h"
#include "core/modules/schedule/run_history.h"
#include "core/os/clock.h"
#include "core/schedule/cron.h"
#include "proto/fleet/config/v1/config.pb.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::modules {

// A scheduled engine's timing, from its spec (validated at load).
struct RunPlan {
  fleet::config::v1::Engine spec;
  schedule::Schedule schedule;
  absl::TimeZone zone;
  absl::Duration jitter;
  // No successful run for this long: unhealthy (overdue).
  absl::Duration expected_period = absl::InfiniteDuration();
  bool intelligence = false;
};

// A scheduled instance's runs.
struct RunTrack {
  const RunPlan* plan = nullptr;
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
  // Intelligence engines' runs (intel_runs.h).
  struct Intel {
    // The answer passed output.max_size and the run was stopped.
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
  };
  Intel intel;
  std::optional<absl::Time> last_success;
  // Since fleetd started: records by verdict, and how long runs took.
  std::map<std::string, uint64_t> runs_by_verdict;
  metrics::Buckets durations{metrics::kDurationBounds};
  absl::Time watched_since;  // wall: overdue counts from here with no success
  bool overdue = false;
  std::string overdue_why;
};

}  // namespace fleet::modules

#endif  // FLEET_CORE_MODULES_SCHEDULE_TRACK_H_
