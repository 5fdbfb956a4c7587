// Which slot a scheduled engine waits for next, given the last slot it ran
// for and the wall clock now: the part of scheduling that must hold across
// fleetd restarts and clock jumps (no slot twice; passed slots run once or
// are skipped, never replayed one by one). Pure; the supervisor turns the
// answer into a monotonic deadline.
#ifndef FLEET_CORE_SCHEDULE_PLANNER_H_
#define FLEET_CORE_SCHEDULE_PLANNER_H_

#include <optional>

#include "absl/time/time.h"
#include "core/schedule/cron.h"

namespace fleet::schedule {

enum class Missed { kRunOnce, kSkip };

struct SlotPlan {
  // The slot to wait for (wall clock); nullopt: none (@reboot, or a date
  // that never comes).
  std::optional<absl::Time> next_slot;
  // Slots that passed without a run since the last one (capped at 1000).
  int missed = 0;
  // Run once now for them (Missed::kRunOnce); it counts as the run for
  // `missed_slot`, the latest that passed.
  bool run_now = false;
  absl::Time missed_slot;
};

// last_slot: the slot of the last run (nullopt: never ran; slots before now
// are then not owed). A wall clock that went back before last_slot waits
// for the slot after last_slot, so no slot runs twice.
SlotPlan PlanSlots(const Schedule& schedule, absl::TimeZone zone,
                   std::optional<absl::Time> last_slot, absl::Time now, Missed policy);

}  // namespace fleet::schedule

#endif  // FLEET_CORE_SCHEDULE_PLANNER_H_
