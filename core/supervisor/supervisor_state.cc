// Shared state, loop side: each instance of an engine with `state: true`
// works in its own Git work tree (FLEET_STATE_DIR). Before every start its
// tree is pulled; after every run what it left is committed and pushed; a
// watchdog commits what long-running daemons leave uncommitted; failed pushes
// are retried with backoff while the worker goes on with its last state.
// The plugin calls run on the StateSync lanes; answers come back here.
// Loop thread only.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "core/backoff/backoff.h"
#include "core/os/files.h"
#include "core/recovery/requests.h"
#include "core/supervisor/supervisor.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {
namespace {

namespace v1 = ::fleet::config::v1;
namespace ctl = ::fleet::control::v1;
using fleet::plugin::v1::SyncRequest;
using fleet::plugin::v1::SyncResult;

// Failed pushes (and pulls a start waits for) are retried after 2s, 4s, ...
// up to 5 minutes.
constexpr Backoff kRetry{absl::Seconds(2), absl::Minutes(5), 2, 0};

absl::Duration RetryDelay(uint32_t retries) { return kRetry.Delay(retries + 1); }

std::string Short(const std::string& head) {
  return head.empty() ? "(no commit)" : head.substr(0, 7);
}

std::string WallTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", t, absl::LocalTimeZone());
}

std::string Ago(absl::Duration d) {
  if (d < absl::Seconds(1)) return "just now";
  return absl::StrCat(absl::FormatDuration(absl::Trunc(d, absl::Seconds(1))), " ago");
}

}  // namespace

void Supervisor::ApplyState(const config::LoadedConfig& loaded) {
  state_config_ = loaded.config.has_state() ? loaded.config.state() : v1::State();
  recovery_config_ = loaded.config.recovery();
  if (state_config_.remote().empty()) {
    watchdog_due_.reset();
    tree_check_due_.reset();
    return;
  }
  // The work trees are checked at once (what a run before this fleetd left)
  // and every recovery interval after.
  if (options_.recovery != nullptr && !tree_check_due_.has_value()) {
    tree_check_due_ = clock_->MonotonicNow();
  }
  absl::Status made = os::MakeDirs(state_config_.work_trees(), 0700);
  if (!made.ok()) Emit("fleetd", "state_error", std::string(made.message()));
  const absl::Duration watchdog = FromProto(state_config_.watchdog());
  watchdog_due_ = watchdog > absl::ZeroDuration()
                      ? std::optional<MonoTime>(clock_->MonotonicNow() + watchdog)
                      : std::nullopt;
}

absl::Status Supervisor::CheckStateReload(const config::LoadedConfig& loaded) const {
  const v1::State next = loaded.config.has_state() ? loaded.config.state() : v1::State();
  if (next.remote().empty() == state_config_.remote().empty() &&
      (next.remote().empty() ||
       (next.remote() == state_config_.remote() && next.branch() == state_config_.branch() &&
        next.work_trees() == state_config_.work_trees() &&
        next.plugin() == state_config_.plugin()))) {
    return absl::OkStatus();  // Merge rules, push attempts and the watchdog apply live.
  }
  return absl::FailedPreconditionError(
      "the state block's remote, branch, work_trees or plugin changed (or state was added or "
      "removed); existing work trees point at the old remote, so that takes a fleetd restart. "
      "The running config stays.");
}

std::string Supervisor::StateDirFor(const v1::Engine& spec, uint32_t index) const {
  if (!spec.state() || state_config_.remote().empty()) return "";
  return os::JoinPath(state_config_.work_trees(), absl::StrCat(spec.name(), ".", index));
}

fleet::plugin::v1::RecoveryRequest Supervisor::StateValidation(const Instance& inst) const {
  if (options_.recovery == nullptr || inst.state.dir.empty()) return {};
  fleet::plugin::v1::RecoveryRequest r =
      recovery::WorkTreeValidation(recovery_config_, options_.run_dir, inst.state.dir, inst.id);
  if (r.rules().empty()) return {};
  return r;
}

void Supervisor::CheckWorkTrees() {
  if (!tree_check_due_.has_value() || *tree_check_due_ > now_) return;
  const absl::Duration interval = FromProto(recovery_config_.interval());
  tree_check_due_ = now_ + (interval > absl::ZeroDuration() ? interval : absl::Seconds(10));
  // A pass still queued from last time: do not pile more on a slow disk.
  if (options_.recovery->pending() > 0) return;
  for (auto& [name, engine] : engines_) {
    for (auto& inst : engine->instances) {
      fleet::plugin::v1::RecoveryRequest check = StateValidation(*inst);
      // A sync on its way validates the tree itself, in order with its commit.
      if (check.rules().empty() || inst->state.in_flight > 0) continue;
      check.set_op(fleet::plugin::v1::RecoveryRequest::OP_CHECK);
      options_.recovery->Submit(std::move(check), inst->id);
    }
  }
}

bool Supervisor::StateReadyToSpawn(Instance* inst) {
  StateTrack& st = inst->state;
  if (st.dir.empty()) return true;
  if (options_.sync == nullptr) {
    inst->life.Wait("state: the sync plugin is not loaded (see fleetctl plugins and events)");
    return false;
  }
  if (st.ready_to_spawn) {
    st.ready_to_spawn = false;
    st.pulling_for_start = false;
    return true;
  }
  if (!st.pulling_for_start) {
    st.pulling_for_start = true;
    SubmitSync(inst, SyncRequest::OP_PULL, "");
  }
  // A pull that failed and waits for its retry keeps saying why.
  if (inst->life.state() != State::kWaiting || !st.retry_due.has_value()) {
    inst->life.Wait("syncing state");
  }
  return false;
}

void Supervisor::SubmitSync(Instance* inst, SyncRequest::Op op, std::string message,
                            std::function<void(ctl::InstanceSync)> reply) {
  sync::SyncJob job;
  job.instance_id = inst->id;
  job.seq = ++sync_seq_;
  SyncRequest& r = job.request;
  r.set_op(op);
  r.set_work_tree(inst->state.dir);
  r.set_remote(state_config_.remote());
  r.set_branch(state_config_.branch());
  r.set_author(inst->id);
  r.set_message(std::move(message));
  r.set_max_attempts(state_config_.push_attempts());
  r.set_merge(state_config_.catch_up() == "merge");
  // The plugin gives up on a silent remote itself, within the host's wait.
  r.set_network_timeout_ms(static_cast<uint32_t>(
      std::min<int64_t>(absl::ToInt64Milliseconds(FromProto(state_config_.network_timeout())),
                        UINT32_MAX)));
  r.set_network_budget_ms(
      static_cast<uint32_t>(absl::ToInt64Milliseconds(job.timeout - absl::Seconds(10))));
  // One push lock for the whole fleet: its instances take turns instead of
  // rejecting each other's pushes.
  r.set_lock_path(os::JoinPath(state_config_.work_trees(), ".fleet-push.flock"));
  for (const v1::MergeRule& rule : state_config_.merge()) {
    auto* m = r.add_rules();
    m->set_glob(rule.path());
    m->set_strategy(rule.strategy());
  }
  // Before anything of the tree is committed (a publish, or the commit a
  // pull makes of uncommitted work), its protected state files are checked.
  job.validate = StateValidation(*inst);
  if (reply) sync_replies_[job.seq] = std::move(reply);
  ++inst->state.in_flight;
  options_.sync->Submit(std::move(job));
}

void Supervisor::PublishAfterExit(Instance* inst, const os::ExitStatus& status) {
  if (inst->state.dir.empty() || !os::Exists(inst->state.dir + "/.git")) return;
  SubmitSync(
      inst, SyncRequest::OP_PUBLISH,
      absl::StrCat("fleet: state from ", inst->id, " after its run (", status.Describe(), ")"));
}

void Supervisor::OnSyncOutcome(const sync::SyncOutcome& outcome) {
  now_ = clock_->MonotonicNow();
  dirty_ = true;
  Instance* inst = nullptr;
  absl::Status unused;
  for (Instance* i : Resolve(outcome.instance_id, &unused)) inst = i;
  auto reply_it = sync_replies_.find(outcome.seq);
  std::function<void(ctl::InstanceSync)> reply;
  if (reply_it != sync_replies_.end()) {
    reply = std::move(reply_it->second);
    sync_replies_.erase(reply_it);
  }
  ctl::InstanceSync answer;
  answer.set_id(outcome.instance_id);
  if (inst == nullptr) {
    answer.set_error("the instance went away while its state was syncing");
    if (reply) reply(answer);
    return;
  }
  StateTrack& st = inst->state;
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
      Emit(inst->id, "recovery_error",
           absl::StrCat("validating the state before a sync: ",
                        outcome.validation->status().message()));
    } else {
      st.invalid = options_.plan_reporter->Report(inst->id, **outcome.validation);
      if (!st.invalid.empty()) {
        // The run counts as failed for the operator: what it left was bad.
        Emit(inst->id, "state_invalid",
             absl::StrCat("the run left invalid state (put back, never committed): ",
                          absl::StrJoin(st.invalid, "; ")));
      }
    }
  }
  if (!result.rebuilt_from().empty()) {
    Emit(inst->id, "state_rebuilt",
         absl::StrCat("the work tree was damaged (", result.rebuild_reason(),
                      "); rebuilt from the remote with its files put back",
                      result.rebuild_carried().empty() ? "" : "; ", result.rebuild_carried(),
                      "; the damaged one is kept at ", result.rebuilt_from()));
  }
  if (!result.undone().empty()) Emit(inst->id, "state_undone", result.undone());
  if (!result.head().empty()) st.head = result.head();
  st.ahead = result.ahead();
  st.last_op_at = now_;
  const std::string took = absl::FormatDuration(absl::Trunc(outcome.took, absl::Milliseconds(1)));

  // What happened, in one line, and whether it was a failure.
  if (result.ok()) {
    st.last_op = pull
                     ? absl::StrCat("pulled ", Short(st.head), " (", result.pull(), ", ", took, ")")
                 : result.committed() || result.attempts() > 0
                     ? absl::StrCat("pushed ", Short(st.head),
                                    result.attempts() > 1
                                        ? absl::StrCat(" after ", result.attempts(), " attempts")
                                        : "",
                                    " (", took, ")")
                     : absl::StrCat("nothing to commit at ", Short(st.head));
    if (st.unreachable) {
      Emit(inst->id, "state_reachable",
           absl::StrCat("the state remote is reachable again (unreachable since ",
                        WallTime(st.unreachable_since), "); ", st.last_op));
    } else if (!st.conflicts.empty() || !st.error.empty()) {
      Emit(inst->id, "state_recovered", st.last_op);
    }
    st.unreachable = false;
    st.error.clear();
    st.retries = 0;
    st.retry_due.reset();
    st.conflicts.clear();
    if (!result.resolved().empty()) {
      Emit(inst->id, "state_merged",
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
        Emit(inst->id, "state_conflict",
             absl::StrCat(absl::StrJoin(paths, ", "), ": ", error, " (",
                          pull ? "the work tree stays as it was" : "nothing is discarded",
                          "; resolve in ", st.dir, " or add a merge rule)"));
      }
      st.conflicts = std::move(paths);
    } else if (result.remote_unreachable()) {
      if (!st.unreachable) {
        st.unreachable = true;
        st.unreachable_since = clock_->WallNow();
        Emit(inst->id, "state_unreachable",
             absl::StrCat(error,
                          "; local commits are kept and the worker goes on with its "
                          "last state"));
      }
    } else if (error != st.error) {
      Emit(inst->id, "state_error", error);
    }
    st.error = error;
    st.last_op = absl::StrCat(pull ? "pull" : "push", " failed (", took, ")");
    // A push that did not get through is tried again with backoff; a
    // conflict waits for the next publish (or the operator).
    if (!pull && !conflict) {
      st.retry_due = now_ + RetryDelay(st.retries++);
    }
  }

  if (pull && st.pulling_for_start) {
    // A start waits for this pull. It goes ahead on the last state when there
    // is a work tree (remote gone, conflict); without one it waits and retries.
    if (inst->life.state() != State::kWaiting || !inst->want_run || inst->retire) {
      st.pulling_for_start = false;  // Stopped meanwhile: the next start pulls again.
    } else if (result.ok() || os::Exists(st.dir + "/.git")) {
      st.ready_to_spawn = true;
      st.retry_due.reset();
    } else {
      const absl::Duration delay = RetryDelay(st.retries++);
      st.retry_due = now_ + delay;
      st.pulling_for_start = true;  // The retry is this start's pull.
      inst->life.Wait(
          absl::StrCat("state: ", st.error, "; retry in ", absl::FormatDuration(delay)));
    }
  }

  answer.set_ok(result.ok());
  answer.set_head(st.head);
  answer.set_summary(st.last_op);
  answer.set_error(st.error);
  for (const std::string& p : st.conflicts) answer.add_conflicts(p);
  answer.set_ahead(st.ahead);
  if (reply) reply(answer);
}

void Supervisor::RunStateTimers() {
  if (options_.recovery != nullptr) CheckWorkTrees();
  if (options_.sync == nullptr || state_config_.remote().empty()) return;
  const bool watchdog = watchdog_due_.has_value() && *watchdog_due_ <= now_;
  if (watchdog) watchdog_due_ = now_ + FromProto(state_config_.watchdog());
  for (auto& [name, engine] : engines_) {
    const bool cycle = engine->spec->has_cycle();
    for (auto& inst : engine->instances) {
      StateTrack& st = inst->state;
      if (st.dir.empty() || !st.retry_due.has_value() || *st.retry_due > now_) {
        // A cycle engine publishes after every run; the watchdog is for
        // daemons that run for long between their own commits.
        if (watchdog && !cycle && !st.dir.empty() && inst->life.HasProcess() && st.in_flight == 0) {
          SubmitSync(inst.get(), SyncRequest::OP_PUBLISH,
                     absl::StrCat("fleet watchdog: state ", inst->id, " left uncommitted"));
        }
        continue;
      }
      st.retry_due.reset();
      if (st.in_flight > 0) continue;  // Something is on its way already.
      if (st.pulling_for_start) {
        SubmitSync(inst.get(), SyncRequest::OP_PULL, "");
      } else {
        SubmitSync(inst.get(), SyncRequest::OP_PUBLISH,
                   absl::StrCat("fleet: state from ", inst->id, " (retried)"));
      }
    }
  }
}

absl::StatusOr<int> Supervisor::SyncState(const std::string& target, bool commit,
                                          const std::string& message,
                                          std::function<void(ctl::InstanceSync)> reply) {
  if (options_.sync == nullptr || state_config_.remote().empty()) {
    return absl::FailedPreconditionError("this fleet has no state: block");
  }
  absl::Status error;
  std::vector<Instance*> targets = Resolve(target, &error);
  if (!error.ok()) return error;
  std::vector<Instance*> with_state;
  for (Instance* inst : targets) {
    if (!inst->state.dir.empty()) with_state.push_back(inst);
  }
  if (with_state.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("'", target, "' has no instance with state: true"));
  }
  for (Instance* inst : with_state) {
    SubmitSync(inst, commit ? SyncRequest::OP_PUBLISH : SyncRequest::OP_PULL, commit ? message : "",
               reply);
  }
  return static_cast<int>(with_state.size());
}

void Supervisor::FillStateStatus(const Instance& inst, ctl::InstanceStatus* out) const {
  const StateTrack& st = inst.state;
  if (st.dir.empty()) return;
  out->set_state_dir(st.dir);
  out->set_state_ahead(st.ahead);
  for (const std::string& p : st.conflicts) out->add_state_conflicts(p);
  std::string line;
  if (!st.conflicts.empty()) {
    line = absl::StrCat("conflict: ", absl::StrJoin(st.conflicts, ", "), " (kept locally)");
  } else if (!st.invalid.empty()) {
    line = absl::StrCat("invalid (put back, not committed): ", absl::StrJoin(st.invalid, "; "));
  } else if (st.unreachable) {
    line = absl::StrCat("degraded: remote unreachable since ", WallTime(st.unreachable_since));
  } else if (!st.error.empty()) {
    line = absl::StrCat("error: ", st.error);
  } else if (st.last_op_at.has_value()) {
    line = absl::StrCat("ok ", Short(st.head), ", ", st.last_op, " ",
                        Ago(clock_->MonotonicNow() - *st.last_op_at));
  } else {
    line = st.in_flight > 0 ? "syncing" : "not synced yet";
  }
  if (st.ahead > 0) absl::StrAppend(&line, "; ", st.ahead, " local commit(s) not pushed");
  out->set_state_sync(line);
}

}  // namespace fleet::supervisor
