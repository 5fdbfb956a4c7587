// A scheduled instance's runs: started (or not), ended and judged, recorded
// in its history; what status and `fleetctl runs` show; `fleetctl run`.
// Loop thread.
#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/modules/schedule/run_metrics.h"
#include "core/modules/schedule/scheduler.h"
#include "core/proto_time/proto_time.h"
#include "core/text/utf8.h"

namespace fleet::modules {
namespace {

namespace v1 = ::fleet::config::v1;
namespace ctl = ::fleet::control::v1;

constexpr uint32_t kDefaultRunsListed = 20;
constexpr absl::Duration kFlushEvery = absl::Seconds(1);

}  // namespace

void Scheduler::OnSpawned(const module::InstanceView& inst) {
  if (Track* t = Find(inst.id)) OnRunStarted(inst, t, "");
}

void Scheduler::OnAdopted(const module::InstanceView& inst, absl::Duration up) {
  if (Track* t = Find(inst.id)) OnRunStarted(inst, t, "adopted");
}

void Scheduler::OnRunStarted(const module::InstanceView& inst, Track* t,
                             const std::string& trigger) {
  t->in_run = true;
  t->output_bytes = 0;
  IntelRuns::OnRunStarted(t);
  ctl::RunRecord& r = t->current;
  r.Clear();
  r.set_instance(inst.id);
  r.set_seq(t->history->TakeSeq());
  r.set_trigger(!trigger.empty()            ? trigger
                : !t->start_trigger.empty() ? t->start_trigger
                                            : "retry");
  if (t->start_slot.has_value()) r.set_slot_unix_ms(absl::ToUnixMillis(*t->start_slot));
  t->start_trigger.clear();
  t->start_slot.reset();
  r.set_started_unix_ms(absl::ToUnixMillis(inst.started_wall));
  r.set_pid(inst.pid);
  r.set_verdict("running");
  r.set_boot_id(boot_id_);
}

void Scheduler::OnSpawnFailed(const module::InstanceView& inst, const std::string& why) {
  Track* t = Find(inst.id);
  if (t == nullptr) return;
  IntelRuns::CloseAnswer(t);
  ctl::RunRecord r;
  r.set_trigger(t->start_trigger.empty() ? "retry" : t->start_trigger);
  if (t->start_slot.has_value()) r.set_slot_unix_ms(absl::ToUnixMillis(*t->start_slot));
  t->start_trigger.clear();
  t->start_slot.reset();
  r.set_started_unix_ms(absl::ToUnixMillis(host_->WallNow()));
  r.set_verdict("failed");
  r.set_reason(absl::StrCat("could not start: ", why));
  r.set_seq(t->history->TakeSeq());
  FinishRun(inst, t, std::move(r));
}

void Scheduler::OnExited(const module::InstanceView& inst, const os::ExitStatus& status) {
  Track* t = Find(inst.id);
  if (t == nullptr || !t->in_run) return;
  t->in_run = false;
  IntelRuns::CloseAnswer(t);
  ctl::RunRecord r = t->current;
  const absl::Time wall = host_->WallNow();
  r.set_duration_ms(std::max<int64_t>(0, absl::ToUnixMillis(wall) - r.started_unix_ms()));
  r.set_output_bytes(t->output_bytes);
  std::string verdict;
  std::string reason = status.Describe();
  if (t->intel.over_cap) {
    verdict = "rejected";
    reason = absl::StrCat("its answer passed output.max_size (", t->plan->spec.output().max_size(),
                          " bytes) and the run was stopped (", reason, ")");
  } else if (t->replacing) {
    t->replacing = false;
    verdict = "replaced";
    reason = absl::StrCat("stopped for a newer run (", reason, ")");
  } else if (inst.timed_out) {
    verdict = "timed_out";
    reason = absl::StrCat("stopped at its timeout of ", Short(FromProto(t->plan->spec.timeout())),
                          " (", reason, ")");
  } else if (status.Success()) {
    verdict = "succeeded";
  } else if (inst.state == ctl::INSTANCE_STATE_STOPPED ||
             inst.state == ctl::INSTANCE_STATE_KILLED) {
    verdict = "stopped";
    reason = inst.reason;
  } else {
    verdict = "failed";
  }
  r.set_verdict(verdict);
  r.set_reason(reason);
  if (t->plan->intelligence) {
    intel_.AfterRun(inst, t, std::move(r), status);  // Judged before it counts.
  } else {
    FinishRun(inst, t, std::move(r));
  }
  if (t->queued && inst.pid == 0) {
    // Its state may have moved (a rate limit idles it): asked afresh.
    host_->WithInstance(inst.id, [&](const module::InstanceView& now) {
      if (now.state == ctl::INSTANCE_STATE_BACKOFF) return;
      t->queued = false;
      FireRun(now, t, "queued", t->queued_slot);
    });
  }
}

void Scheduler::FinishRun(const module::InstanceView& inst, Track* t, ctl::RunRecord r) {
  // A reason or score may quote the run's own output: kept valid UTF-8 for
  // the history file and `fleetctl runs`.
  r.set_reason(text::EscapeInvalidUtf8(r.reason()));
  r.set_score(text::EscapeInvalidUtf8(r.score()));
  const std::string& verdict = r.verdict();
  // What comes next, when it is not simply the next slot: a retry, or the
  // retries given up. (The instance's state as of now, not as of the view.)
  std::string next;
  host_->WithInstance(inst.id, [&](const module::InstanceView& now) {
    if (now.state == ctl::INSTANCE_STATE_BACKOFF) next = absl::StrCat("; ", now.reason);
    if (absl::StrContains(now.reason, "gave up")) {
      absl::StrAppend(&next, "; retries given up until the next slot");
    }
  });
  host_->Emit(
      inst.id, "run_" + verdict,
      absl::StrCat(r.trigger(), " run #", r.seq(), " ", verdict, " in ",
                   Short(absl::Milliseconds(r.duration_ms())),
                   verdict == "succeeded" ? "" : absl::StrCat(": ", r.reason()),
                   r.score().empty() ? "" : absl::StrCat(" (score ", r.score(), ")"), next));
  if (verdict == "succeeded") {
    t->last_success = host_->WallNow();
    if (t->overdue) {
      t->overdue = false;
      t->overdue_why.clear();
      host_->Emit(inst.id, "run_on_time", "a run succeeded again; no longer overdue");
    }
  }
  RecordRun(inst.id, t, std::move(r));
}

void Scheduler::RecordRun(const std::string& id, Track* t, ctl::RunRecord record) {
  CountRun(record, t);
  if (t->history == nullptr) return;
  record.set_instance(id);
  if (record.seq() == 0) record.set_seq(t->history->TakeSeq());
  NoteHistoryWrite(id, t, t->history->Append(std::move(record)));
}

void Scheduler::NoteHistoryWrite(const std::string& id, Track* t, const absl::Status& written) {
  if (written.ok() == !t->history_failing) return;
  t->history_failing = !written.ok();
  histories_failing_ += t->history_failing ? 1 : -1;
  flush_due_ = histories_failing_ > 0 ? std::optional<os::MonoTime>(host_->Now() + kFlushEvery)
                                      : std::nullopt;
  if (t->history_failing) {
    host_->Emit(id, "history_write_failed",
                absl::StrCat(written.message(),
                             "; its runs are kept in memory (fleetctl runs) and written again "
                             "until the file takes them"));
  } else {
    host_->Emit(id, "history_written", absl::StrCat(t->history->path(), " holds every run again"));
  }
}

void Scheduler::FlushHistories() {
  if (histories_failing_ <= 0) return;  // Every history is in its file.
  flush_due_ = host_->Now() + kFlushEvery;
  for (auto& [id, t] : tracks_) {
    if (t.history != nullptr && t.history->behind()) NoteHistoryWrite(id, &t, t.history->Flush());
  }
}

void Scheduler::FillRunStatus(const Track& t, ctl::InstanceStatus* out) const {
  if (t.history == nullptr) return;
  if (t.in_run) {
    *out->mutable_last_run() = t.current;
    out->mutable_last_run()->set_duration_ms(
        std::max<int64_t>(0, absl::ToUnixMillis(host_->WallNow()) - t.current.started_unix_ms()));
    out->mutable_last_run()->set_output_bytes(t.output_bytes);
  } else if (t.intel.judging) {
    *out->mutable_last_run() = t.intel.judged;
  } else if (!t.history->runs().empty()) {
    *out->mutable_last_run() = t.history->runs().back();
  }
  if (t.due.has_value()) {
    out->set_next_run_unix_ms(absl::ToUnixMillis(
        host_->WallNow() + std::max(absl::ZeroDuration(), *t.due - host_->Now())));
  }
  // A scheduled instance's health is whether it runs on time.
  if (t.overdue) out->set_health(t.overdue_why);
}

void Scheduler::FillInstanceStatus(const module::InstanceView& inst,
                                   ctl::InstanceStatus* out) const {
  auto it = tracks_.find(inst.id);
  if (it != tracks_.end()) FillRunStatus(it->second, out);
}

absl::StatusOr<ctl::ListRunsResponse> Scheduler::ListRuns(const std::string& target,
                                                          uint32_t limit) {
  absl::StatusOr<std::vector<std::string>> ids = host_->ResolveTarget(target);
  if (!ids.ok()) return ids.status();
  if (limit == 0) limit = kDefaultRunsListed;
  ctl::ListRunsResponse response;
  for (const std::string& id : *ids) {
    Track* t = Find(id);
    if (t == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat(id.substr(0, id.rfind('/')),
                       " is a daemon; only cron and intelligence engines have runs"));
    }
    uint32_t n = 0;
    if (t->in_run) {
      ctl::InstanceStatus live;
      FillRunStatus(*t, &live);
      *response.add_runs() = live.last_run();
      ++n;
    }
    const auto& runs = t->history->runs();
    for (auto it = runs.rbegin(); it != runs.rend() && n < limit; ++it, ++n) {
      *response.add_runs() = *it;
    }
  }
  return response;
}

absl::StatusOr<ctl::ActionResponse> Scheduler::RunNow(const std::string& target) {
  absl::StatusOr<std::vector<std::string>> ids = host_->ResolveTarget(target);
  if (!ids.ok()) return ids.status();
  for (const std::string& id : *ids) {
    if (Find(id) == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat(id.substr(0, id.rfind('/')),
                       " is a daemon (it runs all the time); `fleetctl run` starts a run of a "
                       "cron or intelligence engine"));
    }
  }
  ctl::ActionResponse response;
  for (const std::string& id : *ids) {
    Track* t = Find(id);
    host_->WithInstance(id, [&](const module::InstanceView& inst) {
      if (!inst.wanted) {
        response.add_changed(
            absl::StrCat(id, ": stopped by the operator; `fleetctl start` it first"));
        return;
      }
      t->last_skip.clear();
      const bool had_process = inst.pid != 0;
      FireRun(inst, t, "manual", std::nullopt);
      host_->WithInstance(id, [&](const module::InstanceView& now) {
        if (!had_process && now.pid != 0) {
          response.add_changed(absl::StrCat(id, ": started (pid ", now.pid, ")"));
        } else if (now.starting) {
          response.add_changed(absl::StrCat(id, ": starting"));
        } else if (t->replacing) {
          response.add_changed(absl::StrCat(id, ": replacing the running run"));
        } else if (t->queued) {
          response.add_changed(absl::StrCat(id, ": queued behind the running run"));
        } else if (!t->last_skip.empty()) {
          response.add_changed(absl::StrCat(id, ": skipped: ", t->last_skip));
        } else {
          response.add_changed(absl::StrCat(id, ": ", now.reason));
        }
      });
    });
  }
  return response;
}

}  // namespace fleet::modules
