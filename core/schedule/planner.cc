#include "core/schedule/planner.h"

#include <algorithm>

namespace fleet::schedule {
namespace {

constexpr int kMissedCap = 1000;

}  // namespace

SlotPlan PlanSlots(const Schedule& schedule, absl::TimeZone zone,
                   std::optional<absl::Time> last_slot, absl::Time now, Missed policy) {
  SlotPlan plan;
  if (schedule.kind() == Schedule::Kind::kReboot) return plan;
  auto next_after = [&](absl::Time t) -> std::optional<absl::Time> {
    if (schedule.kind() == Schedule::Kind::kEvery) {
      // Slots are last_slot + k * period: the first after t.
      const absl::Time base = last_slot.value_or(t);
      absl::Duration rem;
      const int64_t k = absl::IDivDuration(t - base, schedule.every(), &rem) + 1;
      return base + k * schedule.every();
    }
    return schedule.NextAfter(t, zone);
  };
  if (!last_slot.has_value()) {
    plan.next_slot = schedule.kind() == Schedule::Kind::kEvery
                         ? std::optional<absl::Time>(now + schedule.every())
                         : schedule.NextAfter(now, zone);
    return plan;
  }
  std::optional<absl::Time> next = next_after(*last_slot);
  if (!next.has_value() || *next > now) {
    plan.next_slot = next;  // Nothing passed (or the clock went back).
    return plan;
  }
  // Slots in (last_slot, now] passed unrun.
  absl::Time latest = *next;
  plan.missed = 1;
  while (plan.missed < kMissedCap) {
    std::optional<absl::Time> after = next_after(latest);
    if (!after.has_value() || *after > now) break;
    latest = *after;
    ++plan.missed;
  }
  // Too many to walk (a minutely job after a week down): the catch-up run
  // stands for every slot up to now.
  plan.missed_slot = plan.missed == kMissedCap ? now : latest;
  plan.run_now = policy == Missed::kRunOnce;
  plan.next_slot = next_after(std::max(latest, now));
  return plan;
}

}  // namespace fleet::schedule
