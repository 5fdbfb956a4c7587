#include "core/modules/state/shared_state.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/os/files.h"
#include "core/proto_time/proto_time.h"
#include "core/recovery/requests.h"
#include "core/modules/state/state_text.h"

namespace fleet::modules {
namespace {

namespace v1 = ::fleet::config::v1;
namespace ctl = ::fleet::control::v1;
using fleet::plugin::v1::RecoveryRequest;
using fleet::plugin::v1::SyncRequest;

bool HasRepo(const std::string& dir) { return !dir.empty() && os::Exists(dir + "/.git"); }

}  // namespace

absl::Status SharedState::CheckReload(const config::LoadedConfig& loaded) const {
  const v1::State next = loaded.config.has_state() ? loaded.config.state() : v1::State();
  if (next.remote().empty() == config_.remote().empty() &&
      (next.remote().empty() ||
       (next.remote() == config_.remote() && next.branch() == config_.branch() &&
        next.work_trees() == config_.work_trees() && next.plugin() == config_.plugin()))) {
    return absl::OkStatus();  // Merge rules, push attempts and the watchdog apply live.
  }
  return absl::FailedPreconditionError(
      "the state block's remote, branch, work_trees or plugin changed (or state was added or "
      "removed); existing work trees point at the old remote, so that takes a fleetd restart. "
      "The running config stays.");
}

void SharedState::OnConfig(const config::LoadedConfig& loaded) {
  config_ = loaded.config.has_state() ? loaded.config.state() : v1::State();
  recovery_config_ = loaded.config.recovery();
  host_->ForEachInstance([this](const module::InstanceView& inst) { OnInstanceAdded(inst); });
  if (config_.remote().empty()) {
    watchdog_due_.reset();
    tree_check_due_.reset();
    return;
  }
  absl::Status made = os::MakeDirs(config_.work_trees(), 0700);
  if (!made.ok()) host_->Emit("fleetd", "state_error", std::string(made.message()));
  const absl::Duration watchdog = FromProto(config_.watchdog());
  watchdog_due_ = watchdog > absl::ZeroDuration()
                      ? std::optional<os::MonoTime>(host_->Now() + watchdog)
                      : std::nullopt;
  // The work trees are checked at once (what a run before this fleetd left)
  // and every recovery interval after.
  if (recovery_ != nullptr && !tree_check_due_.has_value()) tree_check_due_ = host_->Now();
}

std::string SharedState::DirFor(const v1::Engine& spec, uint32_t index) const {
  if (!spec.state() || config_.remote().empty()) return "";
  return os::JoinPath(config_.work_trees(), absl::StrCat(spec.name(), ".", index));
}

void SharedState::OnInstanceAdded(const module::InstanceView& inst) {
  std::string dir = DirFor(inst.spec, inst.index);
  if (dir.empty()) {
    tracks_.erase(inst.id);
  } else {
    tracks_[inst.id].dir = std::move(dir);
  }
}

SharedState::Track* SharedState::Find(const std::string& id) {
  auto it = tracks_.find(id);
  return it == tracks_.end() ? nullptr : &it->second;
}

std::optional<std::string> SharedState::SpawnGate(const module::InstanceView& inst) {
  Track* track = Find(inst.id);
  if (track == nullptr) return std::nullopt;
  if (sync_ == nullptr) {
    return "state: the sync plugin is not loaded (see fleetctl plugins and events)";
  }
  if (track->ready_to_spawn) {
    track->ready_to_spawn = false;
    track->pulling_for_start = false;
    return std::nullopt;
  }
  if (!track->pulling_for_start) {
    track->pulling_for_start = true;
    Submit(inst.id, track, SyncRequest::OP_PULL, "");
  }
  // A pull that failed and waits for its retry keeps saying why.
  if (inst.state == ctl::INSTANCE_STATE_WAITING && track->retry_due.has_value()) return "";
  return "syncing state";
}

void SharedState::AddEnvironment(const module::InstanceView& inst,
                                 std::map<std::string, std::string>* env) const {
  auto it = tracks_.find(inst.id);
  if (it != tracks_.end()) (*env)["FLEET_STATE_DIR"] = it->second.dir;
}

RecoveryRequest SharedState::Validation(const std::string& id, const Track& track) const {
  if (recovery_ == nullptr) return {};
  RecoveryRequest r =
      recovery::WorkTreeValidation(recovery_config_, host_->run_dir(), track.dir, id);
  if (r.rules().empty()) return {};
  return r;
}

void SharedState::Submit(const std::string& id, Track* track, SyncRequest::Op op,
                         std::string message, std::function<void(ctl::InstanceSync)> reply) {
  sync::SyncJob job;
  job.instance_id = id;
  job.seq = ++seq_;
  SyncRequest& r = job.request;
  r.set_op(op);
  r.set_work_tree(track->dir);
  r.set_remote(config_.remote());
  r.set_branch(config_.branch());
  r.set_author(id);
  r.set_message(std::move(message));
  r.set_max_attempts(config_.push_attempts());
  r.set_merge(config_.catch_up() == "merge");
  // The plugin gives up on a silent remote itself, within the host's wait.
  r.set_network_timeout_ms(static_cast<uint32_t>(std::min<int64_t>(
      absl::ToInt64Milliseconds(FromProto(config_.network_timeout())), UINT32_MAX)));
  r.set_network_budget_ms(
      static_cast<uint32_t>(absl::ToInt64Milliseconds(job.timeout - absl::Seconds(10))));
  // One push lock for the whole fleet: its instances take turns instead of
  // rejecting each other's pushes.
  r.set_lock_path(os::JoinPath(config_.work_trees(), ".fleet-push.flock"));
  for (const v1::MergeRule& rule : config_.merge()) {
    auto* m = r.add_rules();
    m->set_glob(rule.path());
    m->set_strategy(rule.strategy());
  }
  // Before anything of the tree is committed (a publish, or the commit a
  // pull makes of uncommitted work), its protected state files are checked.
  job.validate = Validation(id, *track);
  if (reply) replies_[job.seq] = std::move(reply);
  ++track->in_flight;
  sync_->Submit(std::move(job));
}

void SharedState::OnExit(const module::InstanceView& inst, const os::ExitStatus& status) {
  Track* track = Find(inst.id);
  if (track == nullptr || sync_ == nullptr || !HasRepo(track->dir)) return;
  Submit(inst.id, track, SyncRequest::OP_PUBLISH,
         absl::StrCat("fleet: state from ", inst.id, " after its run (", status.Describe(), ")"));
}

void SharedState::OnDelivered(const module::InstanceView& inst, const std::string& path,
                              const std::string& what) {
  Track* track = Find(inst.id);
  if (track == nullptr || sync_ == nullptr || !HasRepo(track->dir)) return;
  if (path.compare(0, track->dir.size() + 1, track->dir + "/") != 0) return;  // Not in its tree.
  Submit(inst.id, track, SyncRequest::OP_PUBLISH, what);
}

std::optional<os::MonoTime> SharedState::NextDeadline() const {
  std::optional<os::MonoTime> next;
  auto consider = [&next](const std::optional<os::MonoTime>& d) {
    if (d.has_value() && (!next.has_value() || *d < *next)) next = d;
  };
  consider(tree_check_due_);
  if (!enabled()) return next;
  consider(watchdog_due_);
  for (const auto& [id, track] : tracks_) consider(track.retry_due);
  return next;
}

void SharedState::CheckWorkTrees() {
  const os::MonoTime now = host_->Now();
  if (recovery_ == nullptr || !tree_check_due_.has_value() || *tree_check_due_ > now) return;
  const absl::Duration interval = FromProto(recovery_config_.interval());
  tree_check_due_ = now + (interval > absl::ZeroDuration() ? interval : absl::Seconds(10));
  // A pass still queued from last time: do not pile more on a slow disk.
  if (recovery_->pending() > 0) return;
  for (const auto& [id, track] : tracks_) {
    RecoveryRequest check = Validation(id, track);
    // A sync on its way validates the tree itself, in order with its commit.
    if (check.rules().empty() || track.in_flight > 0) continue;
    check.set_op(RecoveryRequest::OP_CHECK);
    recovery_->Submit(std::move(check), id);
  }
}

void SharedState::OnDeadline() {
  CheckWorkTrees();
  if (!enabled()) return;
  const os::MonoTime now = host_->Now();
  const bool watchdog = watchdog_due_.has_value() && *watchdog_due_ <= now;
  if (watchdog) watchdog_due_ = now + FromProto(config_.watchdog());
  host_->ForEachInstance([&](const module::InstanceView& inst) {
    Track* track = Find(inst.id);
    if (track == nullptr) return;
    if (!track->retry_due.has_value() || *track->retry_due > now) {
      // A cycle engine publishes after every run; the watchdog is for
      // daemons that run for long between their own commits.
      if (watchdog && !inst.spec.has_cycle() && inst.pid != 0 && track->in_flight == 0) {
        Submit(inst.id, track, SyncRequest::OP_PUBLISH,
               absl::StrCat("fleet watchdog: state ", inst.id, " left uncommitted"));
      }
      return;
    }
    track->retry_due.reset();
    if (track->in_flight > 0) return;  // Something is on its way already.
    if (track->pulling_for_start) {
      Submit(inst.id, track, SyncRequest::OP_PULL, "");
    } else {
      Submit(inst.id, track, SyncRequest::OP_PUBLISH,
             absl::StrCat("fleet: state from ", inst.id, " (retried)"));
    }
  });
}

absl::StatusOr<int> SharedState::Sync(const std::string& target, bool commit,
                                      const std::string& message,
                                      std::function<void(ctl::InstanceSync)> reply) {
  if (!enabled()) return absl::FailedPreconditionError("this fleet has no state: block");
  absl::StatusOr<std::vector<std::string>> ids = host_->ResolveTarget(target);
  if (!ids.ok()) return ids.status();
  std::vector<std::string> with_state;
  for (const std::string& id : *ids) {
    if (tracks_.contains(id)) with_state.push_back(id);
  }
  if (with_state.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("'", target, "' has no instance with state: true"));
  }
  for (const std::string& id : with_state) {
    Submit(id, Find(id), commit ? SyncRequest::OP_PUBLISH : SyncRequest::OP_PULL,
           commit ? message : "", reply);
  }
  return static_cast<int>(with_state.size());
}

void SharedState::FillStatus(ctl::GetStatusResponse* status) const {
  if (sync_ == nullptr) return;
  ctl::DaemonStatus* d = status->mutable_daemon();
  d->set_plugin_queue(d->plugin_queue() + static_cast<uint32_t>(sync_->pending()));
}

void SharedState::FillInstanceStatus(const module::InstanceView& inst,
                                     ctl::InstanceStatus* out) const {
  auto it = tracks_.find(inst.id);
  if (it == tracks_.end()) return;
  const Track& track = it->second;
  out->set_state_dir(track.dir);
  out->set_state_ahead(track.ahead);
  for (const std::string& p : track.conflicts) out->add_state_conflicts(p);
  out->set_state_sync(StatusLine(track));
}

std::string SharedState::StatusLine(const Track& track) const {
  std::string line;
  if (!track.conflicts.empty()) {
    line = absl::StrCat("conflict: ", absl::StrJoin(track.conflicts, ", "), " (kept locally)");
  } else if (!track.invalid.empty()) {
    line = absl::StrCat("invalid (put back, not committed): ", absl::StrJoin(track.invalid, "; "));
  } else if (track.unreachable) {
    line = absl::StrCat("degraded: remote unreachable since ", WallTime(track.unreachable_since));
  } else if (!track.error.empty()) {
    line = absl::StrCat("error: ", track.error);
  } else if (track.last_op_at.has_value()) {
    line = absl::StrCat("ok ", ShortHead(track.head), ", ", track.last_op, " ",
                        Ago(host_->Now() - *track.last_op_at));
  } else {
    line = track.in_flight > 0 ? "syncing" : "not synced yet";
  }
  if (track.ahead > 0) absl::StrAppend(&line, "; ", track.ahead, " local commit(s) not pushed");
  return line;
}

}  // namespace fleet::modules
