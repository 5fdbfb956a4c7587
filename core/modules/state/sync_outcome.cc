// A sync plugin's answer, absorbed: the instance's view of its tree, events
// for what changed (conflicts, an unreachable remote and its return, bad
// state put back, a rebuilt tree), retries of failed pushes, and the start
// that waited for a pull. Loop thread.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/backoff/backoff.h"
#include "core/modules/state/shared_state.h"
#include "core/modules/state/state_text.h"
#include "core/os/files.h"

namespace fleet::modules {
namespace {

namespace ctl = ::fleet::control::v1;
using fleet::plugin::v1::SyncRequest;
using fleet::plugin::v1::SyncResult;

// Failed pushes (and pulls a start waits for) are retried after 2s, 4s, ...
// up to 5 minutes.
constexpr Backoff kRetry{absl::Seconds(2), absl::Minutes(5), 2, 0};

absl::Duration RetryDelay(uint32_t retries) { return kRetry.Delay(retries + 1); }

}  // namespace

void SharedState::OnOutcome(const sync::SyncOutcome& outcome) {
  auto reply_it = replies_.find(outcome.seq);
  std::function<void(ctl::InstanceSync)> reply;
  if (reply_it != replies_.end()) {
    reply = std::move(reply_it->second);
    replies_.erase(reply_it);
  }
  ctl::InstanceSync answer;
  answer.set_id(outcome.instance_id);
  Track* track = Find(outcome.instance_id);
  const bool found =
      track != nullptr &&
      host_->WithInstance(outcome.instance_id, [&](const module::InstanceView& inst) {
        Absorb(inst, track, outcome, &answer);
      });
  if (!found) answer.set_error("the instance went away while its state was syncing");
  if (reply) reply(answer);
}

void SharedState::Absorb(const module::InstanceView& inst, Track* track,
                         const sync::SyncOutcome& outcome, ctl::InstanceSync* answer) {
  Track& st = *track;
  const os::MonoTime now = host_->Now();
  st.in_flight = std::max(0, st.in_flight - 1);
  const bool pull = outcome.op == SyncRequest::OP_PULL;
  SyncResult result;
  if (outcome.result.ok()) {
    result = *outcome.result;
  } else {
    result.set_error(absl::StrCat("sync plugin: ", outcome.result.status().message()));
  }
  if (outcome.validation.has_value()) {
    if (!outcome.validation->ok()) {
      host_->Emit(inst.id, "recovery_error",
                  absl::StrCat("validating the state before a sync: ",
                               outcome.validation->status().message()));
    } else {
      st.invalid = reporter_->Report(inst.id, **outcome.validation);
      if (!st.invalid.empty()) {
        // The run counts as failed for the operator: what it left was bad.
        host_->Emit(inst.id, "state_invalid",
                    absl::StrCat("the run left invalid state (put back, never committed): ",
                                 absl::StrJoin(st.invalid, "; ")));
      }
    }
  }
  if (!result.rebuilt_from().empty()) {
    host_->Emit(inst.id, "state_rebuilt",
                absl::StrCat("the work tree was damaged (", result.rebuild_reason(),
                             "); rebuilt from the remote with its files put back",
                             result.rebuild_carried().empty() ? "" : "; ", result.rebuild_carried(),
                             "; the damaged one is kept at ", result.rebuilt_from()));
  }
  if (!result.undone().empty()) host_->Emit(inst.id, "state_undone", result.undone());
  Count(pull, result, host_->WallNow(), &st.counts);
  if (!result.head().empty()) st.head = result.head();
  st.ahead = result.ahead();
  st.last_op_at = now;
  const std::string took = absl::FormatDuration(absl::Trunc(outcome.took, absl::Milliseconds(1)));

  // What happened, in one line, and whether it was a failure.
  if (result.ok()) {
    st.last_op =
        pull ? absl::StrCat("pulled ", ShortHead(st.head), " (", result.pull(), ", ", took, ")")
        : result.committed() || result.attempts() > 0
            ? absl::StrCat("pushed ", ShortHead(st.head),
                           result.attempts() > 1
                               ? absl::StrCat(" after ", result.attempts(), " attempts")
                               : "",
                           " (", took, ")")
            : absl::StrCat("nothing to commit at ", ShortHead(st.head));
    if (st.unreachable) {
      host_->Emit(inst.id, "state_reachable",
                  absl::StrCat("the state remote is reachable again (unreachable since ",
                               WallTime(st.unreachable_since), "); ", st.last_op));
    } else if (!st.conflicts.empty() || !st.error.empty()) {
      host_->Emit(inst.id, "state_recovered", st.last_op);
    }
    st.unreachable = false;
    st.error.clear();
    st.retries = 0;
    st.retry_due.reset();
    st.conflicts.clear();
    if (!result.resolved().empty()) {
      host_->Emit(inst.id, "state_merged",
                  absl::StrCat("resolved by rule: ", absl::StrJoin(result.resolved(), ", ")));
    }
  } else {
    const bool conflict = result.unresolved_size() > 0 || result.refused_size() > 0;
    std::string error = result.error();
    for (const std::string& why : result.refused()) {
      if (error.find(why) == std::string::npos) error = absl::StrCat(error, "; ", why);
    }
    if (error.empty() && conflict) error = "conflict no merge rule resolves";
    if (conflict) {
      std::vector<std::string> paths(result.unresolved().begin(), result.unresolved().end());
      if (paths != st.conflicts) {
        host_->Emit(inst.id, "state_conflict",
                    absl::StrCat(absl::StrJoin(paths, ", "), ": ", error, " (",
                                 pull ? "the work tree stays as it was" : "nothing is discarded",
                                 "; resolve in ", st.dir, " or add a merge rule)"));
      }
      st.conflicts = std::move(paths);
    } else if (result.remote_unreachable()) {
      if (!st.unreachable) {
        st.unreachable = true;
        st.unreachable_since = host_->WallNow();
        host_->Emit(inst.id, "state_unreachable",
                    absl::StrCat(error,
                                 "; local commits are kept and the worker goes on with its "
                                 "last state"));
      }
    } else if (error != st.error) {
      host_->Emit(inst.id, "state_error", error);
    }
    st.error = error;
    st.last_op = absl::StrCat(pull ? "pull" : "push", " failed (", took, ")");
    // A push that did not get through is tried again with backoff; a
    // conflict waits for the next publish (or the operator).
    if (!pull && !conflict) st.retry_due = now + RetryDelay(st.retries++);
  }

  if (pull && st.pulling_for_start) {
    // A start waits for this pull. It goes ahead on the last state when there
    // is a work tree (remote gone, conflict); without one it waits and retries.
    if (inst.state != ctl::INSTANCE_STATE_WAITING || !inst.wanted) {
      st.pulling_for_start = false;  // Stopped meanwhile: the next start pulls again.
    } else if (result.ok() || os::Exists(st.dir + "/.git")) {
      st.ready_to_spawn = true;
      st.retry_due.reset();
    } else {
      const absl::Duration delay = RetryDelay(st.retries++);
      st.retry_due = now + delay;
      st.pulling_for_start = true;  // The retry is this start's pull.
      host_->SetWaiting(
          inst.id, absl::StrCat("state: ", st.error, "; retry in ", absl::FormatDuration(delay)));
    }
  }

  answer->set_ok(result.ok());
  answer->set_head(st.head);
  answer->set_summary(st.last_op);
  answer->set_error(st.error);
  for (const std::string& p : st.conflicts) answer->add_conflicts(p);
  answer->set_ahead(st.ahead);
}

}  // namespace fleet::modules
