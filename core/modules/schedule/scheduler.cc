#include "core/modules/schedule/scheduler.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/os/files.h"
#include "core/proto_time/proto_time.h"
#include "core/schedule/planner.h"
#include "google/protobuf/util/message_differencer.h"

namespace fleet::modules {
namespace {

namespace v1 = ::fleet::config::v1;
namespace ctl = ::fleet::control::v1;

constexpr size_t kKeepRuns = 100;
// A wall clock that moved against the monotonic one by more than this was
// set (NTP slews far slower).
constexpr absl::Duration kClockJumpTolerance = absl::Seconds(1);

std::string RunsPath(const std::string& run_dir, const std::string& engine, uint32_t index) {
  return os::JoinPath(run_dir, absl::StrCat("runs/", engine, ".", index, ".jsonl"));
}

double Uniform() {
  static std::mt19937_64 generator(std::random_device{}());
  return std::uniform_real_distribution<double>(0, 1)(generator);
}

// A timerfd on CLOCK_REALTIME that becomes readable when the wall clock is
// set (TFD_TIMER_CANCEL_ON_SET); re-armed after each wake-up.
void RearmClockWatch(int fd) {
  uint64_t expirations;
  while (::read(fd, &expirations, sizeof(expirations)) > 0) {
  }
  // Armed for a time that never comes: only a clock set wakes it.
  itimerspec spec{};
  spec.it_value.tv_sec = std::numeric_limits<time_t>::max() / 2;
  ::timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &spec, nullptr);
}

std::string ReadBootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return std::string(absl::StripAsciiWhitespace(id));
}

}  // namespace

std::string Short(absl::Duration d) {
  return absl::FormatDuration(
      absl::Trunc(d, d < absl::Seconds(10) ? absl::Milliseconds(1) : absl::Seconds(1)));
}

Scheduler::Scheduler(module::ModuleHost* host)
    : host_(host),
      intel_(
          host, [this](const std::string& id) { return Find(id); },
          [this](const module::InstanceView& inst, Track* t, ctl::RunRecord r) {
            FinishRun(inst, t, std::move(r));
          }),
      boot_id_(ReadBootId()) {}

Scheduler::~Scheduler() {
  if (clock_fd_ >= 0) ::close(clock_fd_);
  for (auto& [id, t] : tracks_) IntelRuns::CloseAnswer(&t);
}

void Scheduler::OnInstanceRemoved(const std::string& id) {
  auto it = tracks_.find(id);
  if (it == tracks_.end()) return;
  IntelRuns::CloseAnswer(&it->second);
  tracks_.erase(it);
}

int Scheduler::OpenStdout(const module::InstanceView& inst) {
  Track* t = Find(inst.id);
  return t == nullptr || !t->plan->intelligence ? -1 : intel_.OpenStdout(inst, t);
}

void Scheduler::WatchedFiles(std::vector<std::string>* paths) const {
  // An answer grows under a cap: every write is a chance to stop the run.
  for (const auto& [id, t] : tracks_) {
    if (t.plan->intelligence) paths->push_back(AnswerPath(host_->run_dir(), t.engine, t.index));
  }
}

void Scheduler::OnFileChanged(const std::string& path, bool complete) {
  intel_.OnAnswerChanged(path);
}

void Scheduler::OnOutput(const module::InstanceView& inst, capture::Stream stream,
                         absl::string_view data) {
  Track* t = tracks_.empty() ? nullptr : Find(inst.id);
  if (t == nullptr) return;
  t->output_bytes += data.size();
  if (stream == capture::Stream::kStderr && t->in_run && t->plan->intelligence) {
    intel_.OnStderr(t, data);
  }
}

void Scheduler::OnConfig(const config::LoadedConfig& loaded) {
  if (clock_fd_ < 0) {
    clock_fd_ = ::timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
    if (clock_fd_ >= 0) {
      RearmClockWatch(clock_fd_);
      if (!host_->WatchFd(clock_fd_, [this] { OnClockSet(); })) {
        ::close(clock_fd_);
        clock_fd_ = -1;  // The offset check at every deadline still sees jumps.
      }
    }
  }
  absl::flat_hash_map<std::string, std::unique_ptr<Plan>> plans;
  for (const v1::Engine& spec : loaded.config.engines()) {
    if (spec.type() == v1::ENGINE_TYPE_DAEMON) continue;
    auto old = plans_.find(spec.name());
    if (old != plans_.end() &&
        google::protobuf::util::MessageDifferencer::Equals(old->second->spec, spec)) {
      plans.emplace(spec.name(), std::move(old->second));
      continue;
    }
    absl::StatusOr<schedule::Schedule> parsed = schedule::Schedule::Parse(spec.schedule());
    if (!parsed.ok()) continue;  // Refused at load; cannot happen here.
    auto plan = std::make_unique<Plan>(
        Plan{spec, *std::move(parsed), absl::LocalTimeZone(), FromProto(spec.jitter())});
    if (!spec.timezone().empty()) absl::LoadTimeZone(spec.timezone(), &plan->zone);
    plan->intelligence = spec.type() == v1::ENGINE_TYPE_INTELLIGENCE;
    if (spec.has_expected_period()) {
      plan->expected_period = FromProto(spec.expected_period());
    } else {
      // The longest wait between two slots, the run itself, the jitter, and
      // a margin for a loaded machine.
      const absl::Duration gap = plan->schedule.LongestGap(host_->WallNow(), plan->zone);
      plan->expected_period =
          gap + FromProto(spec.timeout()) + plan->jitter + std::max(gap / 10, absl::Seconds(5));
    }
    plans.emplace(spec.name(), std::move(plan));
  }
  // An engine removed from the config keeps its plan while its instances
  // stop: a run in progress is still recorded when it ends (its instances
  // are not wanted any more, so nothing new fires).
  for (auto& [name, plan] : plans_) {
    const v1::Engine* still = host_->FindEngine(name);
    if (plan != nullptr && !plans.contains(name) && still != nullptr &&
        still->type() != v1::ENGINE_TYPE_DAEMON) {
      plans.emplace(name, std::move(plan));
    }
  }
  plans_.swap(plans);
  // Where run histories and answers live (and are watched).
  if (!plans_.empty()) (void)os::MakeDirs(os::JoinPath(host_->run_dir(), "runs"), 0700);
  // A new or changed engine's instances are planned again; a daemon's are
  // none of this module's.
  host_->ForEachInstance([this](const module::InstanceView& inst) {
    auto plan = plans_.find(inst.spec.name());
    if (plan == plans_.end()) {
      OnInstanceRemoved(inst.id);  // A daemon now.
      return;
    }
    Track* t = Find(inst.id);
    if (t == nullptr || t->plan != plan->second.get()) OnInstanceAdded(inst);
  });
  host_->Rewatch();
}

void Scheduler::OnInstanceAdded(const module::InstanceView& inst) {
  auto plan = plans_.find(inst.spec.name());
  if (plan == plans_.end()) return;
  Track& t = tracks_[inst.id];
  t.plan = plan->second.get();
  t.engine = inst.spec.name();
  t.index = inst.index;
  PlanInstance(inst.id, &t);
}

Scheduler::Track* Scheduler::Find(const std::string& id) {
  auto it = tracks_.find(id);
  return it == tracks_.end() ? nullptr : &it->second;
}

void Scheduler::PlanInstance(const std::string& id, Track* t) {
  if (t->history == nullptr) {
    t->history =
        std::make_unique<RunHistory>(RunsPath(host_->run_dir(), t->engine, t->index), kKeepRuns);
    std::vector<std::string> errors;
    t->history->Load(&errors);
    for (const std::string& error : errors) {
      host_->Emit(id, "runs_invalid", absl::StrCat("a run record was skipped: ", error));
    }
    for (const ctl::RunRecord& r : t->history->runs()) {
      if (r.slot_unix_ms() > 0) {
        const absl::Time slot = absl::FromUnixMillis(r.slot_unix_ms());
        if (!t->last_slot.has_value() || slot > *t->last_slot) t->last_slot = slot;
      }
      if (r.verdict() == "succeeded") {
        t->last_success = absl::FromUnixMillis(r.started_unix_ms() + r.duration_ms());
      }
    }
    t->watched_since = host_->WallNow();
  }
  if (t->plan->schedule.kind() == schedule::Schedule::Kind::kReboot) {
    t->due.reset();
    t->next_slot.reset();
    for (const ctl::RunRecord& r : t->history->runs()) {
      if (r.trigger() == "reboot" && r.boot_id() == boot_id_) return;  // Ran this boot.
    }
    t->due = host_->Now();
    t->due_trigger = "reboot";
    t->due_slot.reset();
    return;
  }
  ScheduleNext(id, t);
}

void Scheduler::ScheduleNext(const std::string& id, Track* t) {
  const Plan& p = *t->plan;
  const std::optional<absl::Time> planned = t->next_slot;
  t->due.reset();
  t->next_slot.reset();
  if (p.schedule.kind() == schedule::Schedule::Kind::kReboot) return;
  const absl::Time wall = host_->clock()->WallNow();
  const schedule::Missed policy = p.spec.missed() == v1::MISSED_POLICY_SKIP
                                      ? schedule::Missed::kSkip
                                      : schedule::Missed::kRunOnce;
  // Never ran, but the clock jumped over the slot it waited for: that slot
  // (and any after it) is owed as if the one before it had run.
  std::optional<absl::Time> reference = t->last_slot;
  if (!reference.has_value() && planned.has_value() && *planned <= wall) {
    reference = *planned - absl::Seconds(1);
  }
  schedule::SlotPlan plan = schedule::PlanSlots(p.schedule, p.zone, reference, wall, policy);
  if (plan.missed > 0) {
    const std::string what =
        absl::StrCat(plan.missed, plan.missed == 1000 ? "+" : "", " slot(s) passed unrun ",
                     "(fleetd was down or the clock jumped)");
    if (plan.run_now) {
      host_->Emit(id, "run_missed", absl::StrCat(what, "; running once now"));
      t->due = host_->Now();
      t->due_trigger = "missed";
      t->due_slot = plan.missed_slot;
      t->next_slot = plan.next_slot;
      return;
    }
    ctl::RunRecord r;
    r.set_trigger("missed");
    r.set_slot_unix_ms(absl::ToUnixMillis(plan.missed_slot));
    r.set_started_unix_ms(absl::ToUnixMillis(wall));
    r.set_verdict("missed");
    r.set_reason(absl::StrCat(what, "; skipped (missed: skip)"));
    RecordRun(id, t, std::move(r));
    host_->Emit(id, "run_missed", absl::StrCat(what, "; skipped (missed: skip)"));
    t->last_slot = plan.missed_slot;
  }
  t->next_slot = plan.next_slot;
  if (!t->next_slot.has_value()) return;
  const absl::Duration jitter =
      p.jitter > absl::ZeroDuration() ? p.jitter * Uniform() : absl::ZeroDuration();
  // The monotonic time read with `wall`, not the loop's Now(): a busy pass
  // (a hundred spawns) would otherwise pull every slot early by its length.
  t->due = host_->clock()->MonotonicNow() + std::max(absl::ZeroDuration(), *t->next_slot - wall) +
           jitter;
  t->due_trigger = "schedule";
  t->due_slot = t->next_slot;
}

void Scheduler::OnClockSet() {
  RearmClockWatch(clock_fd_);
  CheckClockJump();
}

void Scheduler::CheckClockJump() {
  os::Clock* clock = host_->clock();
  const absl::Duration offset = (clock->WallNow() - absl::UnixEpoch()) - clock->MonotonicNow();
  const std::optional<absl::Duration> before = wall_offset_;
  wall_offset_ = offset;
  if (!before.has_value() || absl::AbsDuration(offset - *before) <= kClockJumpTolerance) return;
  host_->Emit("fleetd", "clock_jumped",
              absl::StrCat("the wall clock moved by ", Short(offset - *before),
                           " against the monotonic one; wall-clock schedules are planned again"));
  for (auto& [id, t] : tracks_) {
    // @every runs on the monotonic clock: a jump changes nothing for it.
    if (t.plan->schedule.kind() != schedule::Schedule::Kind::kCalendar) continue;
    if (t.due_trigger == "schedule") ScheduleNext(id, &t);
  }
}

std::optional<os::MonoTime> Scheduler::NextDeadline() const {
  std::optional<os::MonoTime> next = flush_due_;
  auto consider = [&next](const std::optional<os::MonoTime>& d) {
    if (d.has_value() && (!next.has_value() || *d < *next)) next = d;
  };
  const absl::Time wall = host_->WallNow();
  for (const auto& [id, t] : tracks_) {
    consider(t.due);
    consider(t.intel.judge_deadline);
    if (!t.overdue && t.plan->expected_period < absl::InfiniteDuration()) {
      const absl::Time at = t.last_success.value_or(t.watched_since) + t.plan->expected_period;
      consider(host_->Now() + std::max(absl::ZeroDuration(), at - wall) + absl::Milliseconds(1));
    }
  }
  return next;
}

void Scheduler::OnDeadline() {
  CheckClockJump();
  for (auto& [id, t] : tracks_) intel_.KillLateJudge(&t);
  FlushHistories();
  const os::MonoTime now = host_->Now();
  const absl::Time wall = host_->WallNow();
  std::vector<std::string> ids;
  ids.reserve(tracks_.size());
  for (const auto& [id, t] : tracks_) ids.push_back(id);
  for (const std::string& id : ids) {
    Track* t = Find(id);
    if (t == nullptr) continue;
    const Plan& p = *t->plan;
    if (t->due.has_value() && *t->due <= now) {
      // A slot still ahead on the wall clock (it was slewed): not yet.
      if (t->due_trigger == "schedule" &&
          p.schedule.kind() == schedule::Schedule::Kind::kCalendar && t->due_slot.has_value() &&
          *t->due_slot - wall > kClockJumpTolerance) {
        ScheduleNext(id, t);
        continue;
      }
      t->due.reset();
      FireRun(id, t, t->due_trigger, t->due_slot);
      if (!t->due.has_value()) ScheduleNext(id, t);
    }
    if (!t->overdue && p.expected_period < absl::InfiniteDuration() &&
        wall - t->last_success.value_or(t->watched_since) > p.expected_period) {
      t->overdue = true;
      t->overdue_why = absl::StrCat("overdue: no successful run ",
                                    t->last_success.has_value()
                                        ? absl::StrCat("for ", Short(wall - *t->last_success))
                                        : absl::StrCat("in ", Short(wall - t->watched_since)),
                                    " (expected at least every ", Short(p.expected_period), ")");
      host_->Emit(id, "run_overdue", t->overdue_why);
    }
  }
}

void Scheduler::Skip(const std::string& id, Track* t, const std::string& trigger,
                     std::optional<absl::Time> slot, const std::string& why) {
  ctl::RunRecord r;
  r.set_trigger(trigger);
  if (slot.has_value()) r.set_slot_unix_ms(absl::ToUnixMillis(*slot));
  r.set_started_unix_ms(absl::ToUnixMillis(host_->WallNow()));
  r.set_verdict("skipped");
  r.set_reason(why);
  t->last_skip = why;
  host_->Emit(id, "run_skipped", why);
  RecordRun(id, t, std::move(r));
}

void Scheduler::FireRun(const std::string& id, Track* t, const std::string& trigger,
                        std::optional<absl::Time> slot) {
  host_->WithInstance(id,
                      [&](const module::InstanceView& inst) { FireRun(inst, t, trigger, slot); });
}

void Scheduler::FireRun(const module::InstanceView& inst, Track* t, const std::string& trigger,
                        std::optional<absl::Time> slot) {
  if (slot.has_value()) {
    // @every keeps its phase from when it really ran (monotonic pacing).
    t->last_slot =
        t->plan->schedule.kind() == schedule::Schedule::Kind::kEvery ? host_->WallNow() : *slot;
  }
  if (!inst.wanted || host_->shutting_down()) return;
  if (inst.pid != 0) {
    const absl::Duration running = host_->Now() - inst.spawned_at;
    switch (t->plan->spec.overlap()) {
      case v1::OVERLAP_POLICY_QUEUE:
        if (!t->queued) {
          t->queued = true;
          t->queued_trigger = trigger;
          t->queued_slot = slot;
          host_->Emit(inst.id, "run_queued",
                      absl::StrCat("the previous run (", Short(running),
                                   " so far) still runs; this one starts when it ends"));
          return;
        }
        break;  // One is queued already: this one is skipped.
      case v1::OVERLAP_POLICY_REPLACE:
        t->replacing = true;
        t->start_trigger = trigger;
        t->start_slot = slot;
        host_->Emit(inst.id, "run_replaced",
                    absl::StrCat("the previous run (", Short(running),
                                 " so far) is stopped for a new one"));
        host_->Restart(inst.id, "replaced by a new run (overlap: replace)");
        return;
      default:
        break;
    }
    Skip(inst.id, t, trigger, slot,
         t->queued ? "a run is already queued behind the running one"
                   : absl::StrCat("the previous run (", Short(running),
                                  " so far) is still running (overlap: skip)"));
    return;
  }
  if (std::string refusal = intel_.BudgetRefusal(*t); !refusal.empty()) {
    Skip(inst.id, t, trigger, slot, refusal);
    return;
  }
  t->start_trigger = trigger;
  t->start_slot = slot;
  host_->Start(inst.id);
}

}  // namespace fleet::modules
