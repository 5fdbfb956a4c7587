// Cron and intelligence engines: the same instances, lifecycle, logs and
// health as daemons; what differs is the trigger and the judgement of a run.
// A slot (wall clock, in the engine's time zone) becomes a monotonic
// deadline; a wall clock that is set is noticed (timerfd with
// TFD_TIMER_CANCEL_ON_SET, and the wall-minus-monotonic offset) and the
// plans are redone, so no slot fires twice and passed ones run once or are
// skipped (the engine's `missed`). A slot that comes while the previous run
// still runs is skipped, queued or replaces it (`overlap`). Every run, and
// every slot skipped or missed, is kept in the instance's run history.
// Loop thread only.
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/log/log.h"
#include "core/os/files.h"
#include "core/schedule/planner.h"
#include "core/supervisor/supervisor.h"
#include "core/supervisor/supervisor_internal.h"
#include "core/text/utf8.h"

namespace fleet::supervisor {
namespace {

namespace v1 = ::fleet::config::v1;
namespace ctl = ::fleet::control::v1;

constexpr size_t kKeepRuns = 100;
// A wall clock that moved against the monotonic one by more than this was
// set (NTP slews far slower).
constexpr absl::Duration kClockJumpTolerance = absl::Seconds(1);
constexpr uint32_t kDefaultRunsListed = 20;

std::string Short(absl::Duration d) {
  return absl::FormatDuration(
      absl::Trunc(d, d < absl::Seconds(10) ? absl::Milliseconds(1) : absl::Seconds(1)));
}

std::string RunsPath(const std::string& run_dir, const std::string& engine, uint32_t index) {
  return os::JoinPath(run_dir, absl::StrCat("runs/", engine, ".", index, ".jsonl"));
}

bool Calendar(const std::optional<schedule::Schedule>& s) {
  return s.has_value() && s->kind() == schedule::Schedule::Kind::kCalendar;
}

double Uniform() {
  static std::mt19937_64 generator(std::random_device{}());
  return std::uniform_real_distribution<double>(0, 1)(generator);
}

}  // namespace

int OpenClockWatch() {
  int fd = ::timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd >= 0) RearmClockWatch(fd);
  return fd;
}

void RearmClockWatch(int fd) {
  if (fd < 0) return;
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

void Supervisor::InstallSchedule(Engine* engine) {
  const v1::Engine& spec = *engine->spec;
  engine->schedule.reset();
  if (spec.type() == v1::ENGINE_TYPE_DAEMON) return;
  absl::StatusOr<schedule::Schedule> parsed = schedule::Schedule::Parse(spec.schedule());
  if (!parsed.ok()) return;  // Refused at load; cannot happen here.
  engine->schedule = *std::move(parsed);
  engine->zone = absl::LocalTimeZone();
  if (!spec.timezone().empty()) absl::LoadTimeZone(spec.timezone(), &engine->zone);
  engine->jitter = FromProto(spec.jitter());
  if (spec.has_expected_period()) {
    engine->expected_period = FromProto(spec.expected_period());
  } else {
    // The longest wait between two slots, the run itself, the jitter, and a
    // margin for a loaded machine.
    const absl::Duration gap = engine->schedule->LongestGap(clock_->WallNow(), engine->zone);
    engine->expected_period =
        gap + FromProto(spec.timeout()) + engine->jitter + std::max(gap / 10, absl::Seconds(5));
  }
  for (auto& inst : engine->instances) inst->cron.planned = false;  // Re-planned.
  // Where run histories and answers live (and are watched).
  (void)os::MakeDirs(os::JoinPath(options_.run_dir, "runs"), 0700);
  rewatch_ = true;
}

void Supervisor::PlanInstance(Instance* inst) {
  CronTrack& c = inst->cron;
  const Engine& e = *inst->engine;
  if (c.history == nullptr) {
    c.history = std::make_unique<RunHistory>(
        RunsPath(options_.run_dir, e.spec->name(), inst->index), kKeepRuns);
    std::vector<std::string> errors;
    c.history->Load(&errors);
    for (const std::string& error : errors) {
      Emit(inst->id, "runs_invalid", absl::StrCat("a run record was skipped: ", error));
    }
    for (const ctl::RunRecord& r : c.history->runs()) {
      if (r.slot_unix_ms() > 0) {
        const absl::Time slot = absl::FromUnixMillis(r.slot_unix_ms());
        if (!c.last_slot.has_value() || slot > *c.last_slot) c.last_slot = slot;
      }
      if (r.verdict() == "succeeded") {
        c.last_success = absl::FromUnixMillis(r.started_unix_ms() + r.duration_ms());
      }
    }
    c.watched_since = clock_->WallNow();
  }
  c.planned = true;
  if (e.schedule.has_value() && e.schedule->kind() == schedule::Schedule::Kind::kReboot) {
    c.due.reset();
    c.next_slot.reset();
    for (const ctl::RunRecord& r : c.history->runs()) {
      if (r.trigger() == "reboot" && r.boot_id() == boot_id_) return;  // Ran this boot.
    }
    c.due = now_;
    c.due_trigger = "reboot";
    c.due_slot.reset();
    return;
  }
  ScheduleNext(inst);
}

void Supervisor::ScheduleNext(Instance* inst) {
  CronTrack& c = inst->cron;
  const Engine& e = *inst->engine;
  const std::optional<absl::Time> planned = c.next_slot;
  c.due.reset();
  c.next_slot.reset();
  if (!e.schedule.has_value() || e.schedule->kind() == schedule::Schedule::Kind::kReboot) return;
  const absl::Time wall = clock_->WallNow();
  const schedule::Missed policy = e.spec->missed() == v1::MISSED_POLICY_SKIP
                                      ? schedule::Missed::kSkip
                                      : schedule::Missed::kRunOnce;
  // Never ran, but the clock jumped over the slot it waited for: that slot
  // (and any after it) is owed as if the one before it had run.
  std::optional<absl::Time> reference = c.last_slot;
  if (!reference.has_value() && planned.has_value() && *planned <= wall) {
    reference = *planned - absl::Seconds(1);
  }
  schedule::SlotPlan plan = schedule::PlanSlots(*e.schedule, e.zone, reference, wall, policy);
  if (plan.missed > 0) {
    const std::string what =
        absl::StrCat(plan.missed, plan.missed == 1000 ? "+" : "", " slot(s) passed unrun ",
                     "(fleetd was down or the clock jumped)");
    if (plan.run_now) {
      Emit(inst->id, "run_missed", absl::StrCat(what, "; running once now"));
      c.due = now_;
      c.due_trigger = "missed";
      c.due_slot = plan.missed_slot;
      c.next_slot = plan.next_slot;
      return;
    }
    ctl::RunRecord r;
    r.set_trigger("missed");
    r.set_slot_unix_ms(absl::ToUnixMillis(plan.missed_slot));
    r.set_started_unix_ms(absl::ToUnixMillis(wall));
    r.set_verdict("missed");
    r.set_reason(absl::StrCat(what, "; skipped (missed: skip)"));
    RecordRun(inst, std::move(r));
    Emit(inst->id, "run_missed", absl::StrCat(what, "; skipped (missed: skip)"));
    c.last_slot = plan.missed_slot;
  }
  c.next_slot = plan.next_slot;
  if (!c.next_slot.has_value()) return;
  const absl::Duration jitter =
      e.jitter > absl::ZeroDuration() ? e.jitter * Uniform() : absl::ZeroDuration();
  // The monotonic time read with `wall`, not the loop's now_: a busy pass
  // (a hundred spawns) would otherwise pull every slot early by its length.
  c.due = clock_->MonotonicNow() + std::max(absl::ZeroDuration(), *c.next_slot - wall) + jitter;
  c.due_trigger = "schedule";
  c.due_slot = c.next_slot;
}

void Supervisor::CheckClockJump() {
  const absl::Duration offset = (clock_->WallNow() - absl::UnixEpoch()) - clock_->MonotonicNow();
  const std::optional<absl::Duration> before = wall_offset_;
  wall_offset_ = offset;
  if (!before.has_value() || absl::AbsDuration(offset - *before) <= kClockJumpTolerance) return;
  Emit("fleetd", "clock_jumped",
       absl::StrCat("the wall clock moved by ", Short(offset - *before),
                    " against the monotonic one; wall-clock schedules are planned again"));
  for (auto& [name, engine] : engines_) {
    // @every runs on the monotonic clock: a jump changes nothing for it.
    if (!Calendar(engine->schedule)) continue;
    for (auto& inst : engine->instances) {
      if (inst->cron.planned && inst->cron.due_trigger == "schedule") ScheduleNext(inst.get());
    }
  }
}

void Supervisor::RunCronTimers() {
  CheckClockJump();
  RunJudgeTimers();
  const absl::Time wall = clock_->WallNow();
  for (auto& [name, engine] : engines_) {
    if (!engine->schedule.has_value()) continue;
    for (auto& inst : engine->instances) {
      CronTrack& c = inst->cron;
      if (!c.planned) continue;
      if (c.due.has_value() && *c.due <= now_) {
        // A slot still ahead on the wall clock (it was slewed): not yet.
        if (c.due_trigger == "schedule" && Calendar(engine->schedule) && c.due_slot.has_value() &&
            *c.due_slot - wall > kClockJumpTolerance) {
          ScheduleNext(inst.get());
          continue;
        }
        c.due.reset();
        FireRun(inst.get(), c.due_trigger, c.due_slot);
        if (!c.due.has_value()) ScheduleNext(inst.get());
      }
      if (!c.overdue && engine->expected_period < absl::InfiniteDuration() &&
          wall - c.last_success.value_or(c.watched_since) > engine->expected_period) {
        c.overdue = true;
        const std::string why = absl::StrCat(
            "overdue: no successful run ",
            c.last_success.has_value() ? absl::StrCat("for ", Short(wall - *c.last_success))
                                       : absl::StrCat("in ", Short(wall - c.watched_since)),
            " (expected at least every ", Short(engine->expected_period), ")");
        c.overdue_why = why;
        Emit(inst->id, "run_overdue", why);
      }
    }
  }
}

std::optional<MonoTime> Supervisor::NextCronDeadline() const {
  std::optional<MonoTime> next;
  const absl::Time wall = clock_->WallNow();
  for (const auto& [name, engine] : engines_) {
    if (!engine->schedule.has_value()) continue;
    for (const auto& inst : engine->instances) {
      const CronTrack& c = inst->cron;
      if (c.due.has_value() && (!next.has_value() || *c.due < *next)) next = c.due;
      if (c.judge_deadline.has_value() && (!next.has_value() || *c.judge_deadline < *next)) {
        next = c.judge_deadline;
      }
      if (!c.overdue && c.planned && engine->expected_period < absl::InfiniteDuration()) {
        const absl::Time at = c.last_success.value_or(c.watched_since) + engine->expected_period;
        const MonoTime when =
            now_ + std::max(absl::ZeroDuration(), at - wall) + absl::Milliseconds(1);
        if (!next.has_value() || when < *next) next = when;
      }
    }
  }
  return next;
}

void Supervisor::FireRun(Instance* inst, const std::string& trigger,
                         std::optional<absl::Time> slot) {
  CronTrack& c = inst->cron;
  const Engine& e = *inst->engine;
  if (slot.has_value()) {
    // @every keeps its phase from when it really ran (monotonic pacing).
    c.last_slot = e.schedule.has_value() && e.schedule->kind() == schedule::Schedule::Kind::kEvery
                      ? clock_->WallNow()
                      : *slot;
  }
  if (!inst->want_run || inst->retire || shutting_down_) return;
  if (inst->life.HasProcess()) {
    const absl::Duration running = now_ - inst->life.spawned_at();
    switch (e.spec->overlap()) {
      case v1::OVERLAP_POLICY_QUEUE:
        if (!c.queued) {
          c.queued = true;
          c.queued_trigger = trigger;
          c.queued_slot = slot;
          Emit(inst->id, "run_queued",
               absl::StrCat("the previous run (", Short(running),
                            " so far) still runs; this one starts when it ends"));
          return;
        }
        break;  // One is queued already: this one is skipped.
      case v1::OVERLAP_POLICY_REPLACE:
        c.replacing = true;
        c.start_trigger = trigger;
        c.start_slot = slot;
        Emit(inst->id, "run_replaced",
             absl::StrCat("the previous run (", Short(running),
                          " so far) is stopped for a new one"));
        Perform(inst, inst->life.Restart(now_, "replaced by a new run (overlap: replace)"));
        return;
      default:
        break;
    }
    ctl::RunRecord r;
    r.set_trigger(trigger);
    if (slot.has_value()) r.set_slot_unix_ms(absl::ToUnixMillis(*slot));
    r.set_started_unix_ms(absl::ToUnixMillis(clock_->WallNow()));
    r.set_verdict("skipped");
    r.set_reason(c.queued ? "a run is already queued behind the running one"
                          : absl::StrCat("the previous run (", Short(running),
                                         " so far) is still running (overlap: skip)"));
    c.last_skip = r.reason();
    Emit(inst->id, "run_skipped", r.reason());
    RecordRun(inst, std::move(r));
    return;
  }
  if (std::string refusal = IntelBudgetRefusal(inst); !refusal.empty()) {
    ctl::RunRecord r;
    r.set_trigger(trigger);
    if (slot.has_value()) r.set_slot_unix_ms(absl::ToUnixMillis(*slot));
    r.set_started_unix_ms(absl::ToUnixMillis(clock_->WallNow()));
    r.set_verdict("skipped");
    r.set_reason(refusal);
    c.last_skip = refusal;
    Emit(inst->id, "run_skipped", refusal);
    RecordRun(inst, std::move(r));
    return;
  }
  c.start_trigger = trigger;
  c.start_slot = slot;
  Perform(inst, inst->life.Start(now_));
}

void Supervisor::OnRunStarted(Instance* inst, const std::string& trigger) {
  CronTrack& c = inst->cron;
  if (!c.planned) PlanInstance(inst);
  c.in_run = true;
  c.output_bytes = 0;
  c.over_cap = false;
  c.stderr_tail.clear();
  ctl::RunRecord& r = c.current;
  r.Clear();
  r.set_instance(inst->id);
  r.set_seq(c.history->TakeSeq());
  r.set_trigger(!trigger.empty() ? trigger : !c.start_trigger.empty() ? c.start_trigger : "retry");
  if (c.start_slot.has_value()) r.set_slot_unix_ms(absl::ToUnixMillis(*c.start_slot));
  c.start_trigger.clear();
  c.start_slot.reset();
  r.set_started_unix_ms(absl::ToUnixMillis(inst->started_wall));
  r.set_pid(inst->pid);
  r.set_verdict("running");
  r.set_boot_id(boot_id_);
}

void Supervisor::OnRunNotStarted(Instance* inst, absl::string_view why) {
  CronTrack& c = inst->cron;
  if (!c.planned) PlanInstance(inst);
  ctl::RunRecord r;
  r.set_trigger(c.start_trigger.empty() ? "retry" : c.start_trigger);
  if (c.start_slot.has_value()) r.set_slot_unix_ms(absl::ToUnixMillis(*c.start_slot));
  c.start_trigger.clear();
  c.start_slot.reset();
  r.set_started_unix_ms(absl::ToUnixMillis(clock_->WallNow()));
  r.set_verdict("failed");
  r.set_reason(absl::StrCat("could not start: ", why));
  r.set_seq(c.history->TakeSeq());
  FinishRun(inst, std::move(r));
}

void Supervisor::OnRunEnded(Instance* inst, const os::ExitStatus& status) {
  CronTrack& c = inst->cron;
  if (!c.in_run) return;
  c.in_run = false;
  ctl::RunRecord r = c.current;
  const absl::Time wall = clock_->WallNow();
  r.set_duration_ms(std::max<int64_t>(0, absl::ToUnixMillis(wall) - r.started_unix_ms()));
  r.set_output_bytes(c.output_bytes);
  const State s = inst->life.state();
  std::string verdict;
  std::string reason = status.Describe();
  if (c.over_cap) {
    verdict = "rejected";
    reason =
        absl::StrCat("its answer passed output.max_size (", inst->engine->spec->output().max_size(),
                     " bytes) and the run was stopped (", reason, ")");
  } else if (c.replacing) {
    c.replacing = false;
    verdict = "replaced";
    reason = absl::StrCat("stopped for a newer run (", reason, ")");
  } else if (inst->life.timed_out()) {
    verdict = "timed_out";
    reason = absl::StrCat("stopped at its timeout of ",
                          Short(FromProto(inst->engine->spec->timeout())), " (", reason, ")");
  } else if (status.Success()) {
    verdict = "succeeded";
  } else if (s == State::kStopped || s == State::kKilled) {
    verdict = "stopped";
    reason = inst->life.reason();
  } else {
    verdict = "failed";
  }
  r.set_verdict(verdict);
  r.set_reason(reason);
  if (inst->engine->spec->type() == v1::ENGINE_TYPE_INTELLIGENCE) {
    IntelAfterRun(inst, std::move(r), status);  // Judged before it counts.
  } else {
    FinishRun(inst, std::move(r));
  }
  if (c.queued && !inst->life.HasProcess() && inst->life.state() != State::kBackoff) {
    c.queued = false;
    FireRun(inst, "queued", c.queued_slot);
  }
}

void Supervisor::FinishRun(Instance* inst, ctl::RunRecord r) {
  CronTrack& c = inst->cron;
  // A reason or score may quote the run's own output: kept valid UTF-8 for
  // the history file and `fleetctl runs`.
  r.set_reason(text::EscapeInvalidUtf8(r.reason()));
  r.set_score(text::EscapeInvalidUtf8(r.score()));
  const std::string& verdict = r.verdict();
  // What comes next, when it is not simply the next slot: a retry, or the
  // retries given up.
  const bool retrying = inst->life.state() == State::kBackoff;
  const bool gave_up = absl::StrContains(inst->life.reason(), "gave up");
  Emit(inst->id, "run_" + verdict,
       absl::StrCat(r.trigger(), " run #", r.seq(), " ", verdict, " in ",
                    Short(absl::Milliseconds(r.duration_ms())),
                    verdict == "succeeded" ? "" : absl::StrCat(": ", r.reason()),
                    r.score().empty() ? "" : absl::StrCat(" (score ", r.score(), ")"),
                    retrying ? absl::StrCat("; ", inst->life.reason()) : "",
                    gave_up ? "; retries given up until the next slot" : ""));
  if (verdict == "succeeded") {
    c.last_success = clock_->WallNow();
    if (c.overdue) {
      c.overdue = false;
      c.overdue_why.clear();
      Emit(inst->id, "run_on_time", "a run succeeded again; no longer overdue");
    }
  }
  RecordRun(inst, std::move(r));
}

void Supervisor::RecordRun(Instance* inst, ctl::RunRecord record) {
  CronTrack& c = inst->cron;
  if (c.history == nullptr) return;
  record.set_instance(inst->id);
  if (record.seq() == 0) record.set_seq(c.history->TakeSeq());
  NoteHistoryWrite(inst, c.history->Append(std::move(record)));
}

void Supervisor::NoteHistoryWrite(Instance* inst, const absl::Status& written) {
  CronTrack& c = inst->cron;
  if (written.ok() == !c.history_failing) return;
  c.history_failing = !written.ok();
  histories_failing_ += c.history_failing ? 1 : -1;
  if (c.history_failing) {
    Emit(inst->id, "history_write_failed",
         absl::StrCat(written.message(), "; its runs are kept in memory (fleetctl runs) and "
                                         "written again until the file takes them"));
  } else {
    Emit(inst->id, "history_written", absl::StrCat(c.history->path(), " holds every run again"));
  }
}

void Supervisor::FlushHistories() {
  if (histories_failing_ <= 0) return;  // Every history is in its file.
  for (auto& [name, engine] : engines_) {
    for (auto& inst : engine->instances) {
      if (inst->cron.history != nullptr && inst->cron.history->behind()) {
        NoteHistoryWrite(inst.get(), inst->cron.history->Flush());
      }
    }
  }
}

void Supervisor::FillRunStatus(const Instance& inst, ctl::InstanceStatus* out) const {
  const CronTrack& c = inst.cron;
  if (!inst.engine->schedule.has_value() || c.history == nullptr) return;
  if (c.in_run) {
    *out->mutable_last_run() = c.current;
    out->mutable_last_run()->set_duration_ms(
        std::max<int64_t>(0, absl::ToUnixMillis(clock_->WallNow()) - c.current.started_unix_ms()));
    out->mutable_last_run()->set_output_bytes(c.output_bytes);
  } else if (c.judge_pid > 0) {
    *out->mutable_last_run() = c.judged;
  } else if (!c.history->runs().empty()) {
    *out->mutable_last_run() = c.history->runs().back();
  }
  if (c.due.has_value()) {
    out->set_next_run_unix_ms(
        absl::ToUnixMillis(clock_->WallNow() + std::max(absl::ZeroDuration(), *c.due - now_)));
  }
  // A scheduled instance's health is whether it runs on time.
  if (c.overdue) out->set_health(c.overdue_why);
}

absl::StatusOr<ctl::ListRunsResponse> Supervisor::ListRuns(const std::string& target,
                                                           uint32_t limit) {
  absl::Status error;
  std::vector<Instance*> instances = Resolve(target, &error);
  if (!error.ok()) return error;
  if (limit == 0) limit = kDefaultRunsListed;
  ctl::ListRunsResponse response;
  for (Instance* inst : instances) {
    if (!inst->engine->schedule.has_value()) {
      return absl::FailedPreconditionError(
          absl::StrCat(inst->engine->spec->name(),
                       " is a daemon; only cron and intelligence engines have runs"));
    }
    if (!inst->cron.planned) PlanInstance(inst);
    uint32_t n = 0;
    if (inst->cron.in_run) {
      ctl::InstanceStatus live;
      FillRunStatus(*inst, &live);
      *response.add_runs() = live.last_run();
      ++n;
    }
    const auto& runs = inst->cron.history->runs();
    for (auto it = runs.rbegin(); it != runs.rend() && n < limit; ++it, ++n) {
      *response.add_runs() = *it;
    }
  }
  return response;
}

absl::StatusOr<ctl::ActionResponse> Supervisor::RunNow(const std::string& target) {
  absl::Status error;
  std::vector<Instance*> instances = Resolve(target, &error);
  if (!error.ok()) return error;
  for (Instance* inst : instances) {
    if (!inst->engine->schedule.has_value()) {
      return absl::FailedPreconditionError(
          absl::StrCat(inst->engine->spec->name(),
                       " is a daemon (it runs all the time); `fleetctl run` starts a run of a "
                       "cron or intelligence engine"));
    }
  }
  ctl::ActionResponse response;
  for (Instance* inst : instances) {
    if (!inst->want_run || inst->retire) {
      response.add_changed(
          absl::StrCat(inst->id, ": stopped by the operator; `fleetctl start` it first"));
      continue;
    }
    if (!inst->cron.planned) PlanInstance(inst);
    inst->cron.last_skip.clear();
    const bool had_process = inst->life.HasProcess();
    FireRun(inst, "manual", std::nullopt);
    if (!had_process && inst->life.HasProcess()) {
      response.add_changed(absl::StrCat(inst->id, ": started (pid ", inst->pid, ")"));
    } else if (inst->cron.replacing) {
      response.add_changed(absl::StrCat(inst->id, ": replacing the running run"));
    } else if (inst->cron.queued) {
      response.add_changed(absl::StrCat(inst->id, ": queued behind the running run"));
    } else if (!inst->cron.last_skip.empty()) {
      response.add_changed(absl::StrCat(inst->id, ": skipped: ", inst->cron.last_skip));
    } else {
      response.add_changed(absl::StrCat(inst->id, ": ", inst->life.reason()));
    }
  }
  dirty_ = true;
  return response;
}

}  // namespace fleet::supervisor
