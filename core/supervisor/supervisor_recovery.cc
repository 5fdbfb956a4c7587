// Recovery, loop side: every `interval` a pass over the protected files (the
// fleet's own, and each state work tree's with its instance as the writer)
// and one over leftovers of dead processes; before every sync of a work tree,
// its state files are validated on the sync lane (see SubmitSync), so a bad
// file is put back and never committed. The plans come back here as events.
// Loop thread only.
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/os/files.h"
#include "core/supervisor/supervisor.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {
namespace {

namespace v1 = ::fleet::config::v1;
using fleet::plugin::v1::ProtectedRule;
using fleet::plugin::v1::RecoveryPlan;
using fleet::plugin::v1::RecoveryRequest;

void CopyRule(const v1::ProtectedFile& f, const std::string& glob, ProtectedRule* out) {
  out->set_glob(glob);
  out->set_format(f.format());
  out->set_min_size_ratio(f.min_size_ratio());
  for (const std::string& k : f.required_keys()) out->add_required_keys(k);
}

}  // namespace

void Supervisor::ApplyRecovery(const config::LoadedConfig& loaded) {
  recovery_config_ = loaded.config.recovery();
  if (options_.recovery == nullptr) {
    recovery_due_.reset();
    return;
  }
  // The first pass runs at once: leftovers of whatever ran before this
  // fleetd are cleaned before the fleet gets going.
  if (!recovery_due_.has_value()) recovery_due_ = clock_->MonotonicNow();
}

RecoveryRequest Supervisor::RecoveryRequestFor(RecoveryRequest::Op op) const {
  RecoveryRequest r;
  r.set_op(op);
  r.set_snapshot_dir(os::JoinPath(options_.run_dir, "recovery/snapshots"));
  r.set_quarantine_dir(os::JoinPath(options_.run_dir, "recovery/quarantine"));
  r.set_keep_snapshots(recovery_config_.keep_snapshots());
  return r;
}

RecoveryRequest Supervisor::StateValidation(const Instance& inst) const {
  RecoveryRequest r;
  if (options_.recovery == nullptr || inst.state.dir.empty()) return r;
  for (const v1::ProtectedFile& f : recovery_config_.protect()) {
    if (f.state()) CopyRule(f, os::JoinPath(inst.state.dir, f.path()), r.add_rules());
  }
  if (r.rules().empty()) return r;
  RecoveryRequest full = RecoveryRequestFor(RecoveryRequest::OP_VALIDATE);
  *full.mutable_rules() = r.rules();
  full.set_writer(inst.id);
  return full;
}

void Supervisor::RunRecoveryTimers() {
  if (options_.recovery == nullptr || !recovery_due_.has_value() || *recovery_due_ > now_) return;
  const absl::Duration interval = FromProto(recovery_config_.interval());
  recovery_due_ = now_ + (interval > absl::ZeroDuration() ? interval : absl::Seconds(10));
  // A pass still queued from last time: do not pile more on a slow disk.
  if (options_.recovery->pending() > 0) return;

  RecoveryRequest fleet = RecoveryRequestFor(RecoveryRequest::OP_CHECK);
  for (const v1::ProtectedFile& f : recovery_config_.protect()) {
    if (!f.state()) CopyRule(f, f.path(), fleet.add_rules());
  }
  if (!fleet.rules().empty()) options_.recovery->Submit(fleet, "fleetd");
  for (auto& [name, engine] : engines_) {
    for (auto& inst : engine->instances) {
      RecoveryRequest mine = StateValidation(*inst);
      if (mine.rules().empty() || inst->state.in_flight > 0) continue;  // The lane validates.
      mine.set_op(RecoveryRequest::OP_CHECK);
      options_.recovery->Submit(std::move(mine), inst->id);
    }
  }
  RecoveryRequest clean;
  clean.set_op(RecoveryRequest::OP_CLEAN);
  clean.set_locks_dir(os::JoinPath(options_.run_dir, "locks"));
  if (!state_config_.remote().empty()) clean.add_temp_dirs(state_config_.work_trees());
  for (const v1::ProtectedFile& f : recovery_config_.protect()) {
    if (!f.state()) clean.add_temp_dirs(os::DirName(f.path()));
  }
  options_.recovery->Submit(std::move(clean), "fleetd");
}

std::vector<std::string> Supervisor::ReportPlan(const std::string& subject,
                                                const RecoveryPlan& plan) {
  std::vector<std::string> bad;
  // Where each bad version went, to say so in the restore's event.
  std::map<std::string, std::string> kept;
  for (const auto& a : plan.actions()) {
    if (a.kind() == "quarantined") kept[a.path()] = a.detail();
  }
  for (const auto& a : plan.actions()) {
    const std::string& kind = a.kind();
    if (kind == "snapshotted") {
      recovery_reported_.erase(a.path());
    } else if (kind == "restored") {
      recovery_reported_.erase(a.path());
      bad.push_back(absl::StrCat(a.path(), ": ", a.reason()));
      std::string message = absl::StrCat(a.path(), ": ", a.reason(),
                                         "; put back its last good version");
      if (kept.count(a.path())) absl::StrAppend(&message, "; the bad one is kept at ", kept[a.path()]);
      if (subject != "fleetd") absl::StrAppend(&message, " (written by ", subject, ")");
      Emit(subject, "file_restored", message);
    } else if (kind == "no_snapshot") {
      bad.push_back(absl::StrCat(a.path(), ": ", a.reason()));
      auto [it, fresh] = recovery_reported_.emplace(a.path(), a.reason());
      if (!fresh && it->second == a.reason()) continue;
      it->second = a.reason();
      Emit(subject, "file_invalid", absl::StrCat(a.path(), ": ", a.reason()));
    } else if (kind == "lock_broken" || kind == "temp_removed") {
      Emit(subject, kind, absl::StrCat(a.path(), ": ", a.reason()));
    } else if (kind == "error") {
      Emit(subject, "recovery_error", absl::StrCat(a.path(), ": ", a.reason()));
    }
  }
  return bad;
}

void Supervisor::OnRecoveryOutcome(const recovery::RecoveryOutcome& outcome) {
  now_ = clock_->MonotonicNow();
  if (!outcome.plan.ok()) {
    Emit(outcome.subject, "recovery_error",
         absl::StrCat("recovery plugin: ", outcome.plan.status().message()));
    return;
  }
  ReportPlan(outcome.subject, *outcome.plan);
}

}  // namespace fleet::supervisor
