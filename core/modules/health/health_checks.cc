#include "core/modules/health/health_checks.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace fleet::modules {
namespace {
namespace pv1 = ::fleet::plugin::v1;
}  // namespace

void HealthChecks::OnConfig(const config::LoadedConfig& loaded) {
  policies_.clear();
  for (const fleet::config::v1::Engine& spec : loaded.config.engines()) {
    policies_[spec.name()] = health::HealthPolicyFor(spec);
  }
  host_->Rewatch();
}

const health::HealthPolicy& HealthChecks::PolicyOf(const module::InstanceView& inst) const {
  auto it = policies_.find(inst.spec.name());
  return it == policies_.end() ? none_ : it->second;
}

void HealthChecks::OnSpawned(const module::InstanceView& inst) {
  const health::HealthPolicy& policy = PolicyOf(inst);
  Track& track = tracks_[inst.id];
  const uint64_t seq = track.seq;
  track = Track();
  track.seq = seq;
  due_.Clear(inst.id);
  host_->SetUnhealthy(inst.id, false);
  if (!policy.enabled || monitor_ == nullptr) return;
  if (!monitor_->HasCheck(policy.check)) {
    track.verdict = absl::StrCat("unknown: health plugin '", policy.check,
                                 "' is not loaded (see fleetd's log)");
    return;
  }
  track.verdict = "pending";
  due_.Set(inst.id, host_->Now() + policy.initial_delay);
}

void HealthChecks::OnAdopted(const module::InstanceView& inst, absl::Duration up) {
  OnSpawned(inst);
  // It was up before fleetd's restart: a probe failing now is no boot.
  tracks_[inst.id].started_healthy = up >= PolicyOf(inst).startup_grace;
}

void HealthChecks::OnExit(const module::InstanceView& inst, const os::ExitStatus& status) {
  auto it = tracks_.find(inst.id);
  if (it == tracks_.end()) return;
  due_.Clear(inst.id);
  ++it->second.seq;  // A verdict on the dead process is void.
  it->second.in_flight = false;
}

void HealthChecks::OnOutput(const module::InstanceView& inst, capture::Stream stream,
                            absl::string_view data) {
  auto it = tracks_.find(inst.id);
  if (it != tracks_.end()) it->second.last_output = host_->Now();
}

void HealthChecks::WatchedFiles(std::vector<std::string>* paths) const {
  for (const auto& [engine, policy] : policies_) {
    if (!policy.enabled) continue;
    if (!policy.log_path.empty()) paths->push_back(policy.log_path);
    if (!policy.heartbeat_path.empty()) paths->push_back(policy.heartbeat_path);
  }
}

std::optional<os::MonoTime> HealthChecks::NextDeadline() const { return due_.Next(); }

void HealthChecks::OnDeadline() {
  for (const std::string& id : due_.TakeDue(host_->Now())) {
    host_->WithInstance(id, [&](const module::InstanceView& inst) {
      auto it = tracks_.find(id);
      if (it != tracks_.end()) Submit(inst, &it->second);
    });
  }
}

int64_t HealthChecks::IdleMillis(const module::InstanceView& inst, const Track& track,
                                 const std::string& path) const {
  const std::optional<os::MonoTime> changed =
      path.empty() ? track.last_output : host_->FileChangedAt(path);
  // A new process gets its full window: what happened before it does not count.
  const os::MonoTime since =
      changed.has_value() ? std::max(*changed, inst.spawned_at) : inst.spawned_at;
  absl::Duration idle = host_->Now() - since;
  // Time fleetd was not watching is nobody's idleness.
  const std::optional<module::ModuleHost::Stall> stall = host_->LastStall();
  const bool stalled_since = stall.has_value() && since < stall->end;
  if (stalled_since) {
    idle -= stall->end - std::max(since, stall->start);
    idle = std::max(idle, absl::ZeroDuration());
  }
  if (!changed.has_value() && !stalled_since) return -1;  // Never written: the whole uptime.
  return absl::ToInt64Milliseconds(idle);
}

void HealthChecks::Submit(const module::InstanceView& inst, Track* track) {
  due_.Clear(inst.id);
  if (!inst.live) return;
  const os::MonoTime now = host_->Now();
  const health::HealthPolicy& policy = PolicyOf(inst);
  if (track->in_flight) {
    // An in-process call cannot be interrupted: say so instead of waiting
    // silently, and look again later.
    absl::Duration waiting = now - track->submitted_at;
    if (waiting > policy.timeout) {
      track->verdict = absl::StrCat("unknown: plugin ", policy.check, " has not answered for ",
                                    absl::FormatDuration(absl::Trunc(waiting, absl::Seconds(1))),
                                    " (hung in fleetd? isolation: process can stop it)");
    }
    due_.Set(inst.id, now + policy.period);
    return;
  }
  health::CheckJob job;
  job.instance_id = inst.id;
  job.seq = ++track->seq;
  job.check = policy.check;
  job.timeout = policy.timeout;
  pv1::HealthCheckRequest& r = job.request;
  r.set_engine(inst.spec.name());
  r.set_index(inst.index);
  r.set_pid(inst.pid);
  *r.mutable_spec() = policy.spec;
  r.set_uptime_ms(absl::ToInt64Milliseconds(now - inst.spawned_at));
  r.set_log_path(policy.log_path.empty() ? inst.log.path() : policy.log_path);
  r.set_log_idle_ms(IdleMillis(inst, *track, policy.log_path));
  r.set_heartbeat_path(policy.heartbeat_path);
  if (!policy.heartbeat_path.empty()) {
    r.set_heartbeat_idle_ms(IdleMillis(inst, *track, policy.heartbeat_path));
  }
  if (policy.spec.exec_command_size() > 0) {
    job.exec.argv.assign(policy.spec.exec_command().begin(), policy.spec.exec_command().end());
    job.exec.env = host_->ChildEnvironment(inst.id);
    job.exec.cwd = inst.spec.cwd();
  }
  track->in_flight = true;
  track->submitted_at = now;
  // Look again if no answer comes (the answer reschedules this).
  due_.Set(inst.id, now + policy.timeout + absl::Seconds(1));
  monitor_->Submit(std::move(job));
}

void HealthChecks::OnOutcome(const health::CheckOutcome& outcome) {
  auto it = tracks_.find(outcome.instance_id);
  if (it == tracks_.end() || outcome.seq != it->second.seq) return;  // A gone process.
  host_->WithInstance(outcome.instance_id,
                      [&](const module::InstanceView& inst) { Judge(inst, &it->second, outcome); });
}

void HealthChecks::SetUnhealthy(const std::string& id, Track* track, bool unhealthy) {
  if (track->unhealthy != unhealthy) host_->SetUnhealthy(id, unhealthy);
  track->unhealthy = unhealthy;
}

void HealthChecks::Judge(const module::InstanceView& inst, Track* track,
                         const health::CheckOutcome& outcome) {
  const os::MonoTime now = host_->Now();
  track->in_flight = false;
  track->checked_at = now;
  if (!inst.live) return;
  const health::HealthPolicy& policy = PolicyOf(inst);
  absl::Duration next = policy.period;
  // An "unknown" verdict is logged when it starts, not at every check.
  auto unknown = [&](const std::string& why) {
    track->verdict = absl::StrCat("unknown: ", why);
    if (!track->unknown) host_->Emit(inst.id, "health_unknown", why);
    track->unknown = true;
  };
  if (!outcome.result.ok()) {
    unknown(std::string(outcome.result.status().message()));
    due_.Set(inst.id, now + next);
    return;
  }
  const pv1::HealthCheckResult& result = *outcome.result;
  if (result.verdict() != pv1::VERDICT_UNKNOWN) track->unknown = false;
  if (result.recheck_in_ms() > 0) {
    next = std::min(next, absl::Milliseconds(result.recheck_in_ms()));
  }
  switch (result.verdict()) {
    case pv1::VERDICT_HEALTHY:
      track->started_healthy = true;
      if (track->unhealthy) host_->Emit(inst.id, "healthy", result.reason());
      SetUnhealthy(inst.id, track, false);
      track->failures = 0;
      track->verdict = result.reason() == "running" || result.reason() == "progressing"
                           ? "healthy"
                           : absl::StrCat("healthy: ", result.reason());
      break;
    case pv1::VERDICT_UNHEALTHY:
      if (!track->started_healthy && now - inst.spawned_at < policy.startup_grace) {
        // Still booting (a web app that takes a while to listen): not a strike.
        track->verdict = absl::StrCat("starting: ", result.reason(), " (allowed for ",
                                      absl::FormatDuration(policy.startup_grace), " after start)");
        break;
      }
      SetUnhealthy(inst.id, track, true);
      ++track->failures;
      track->verdict = absl::StrCat("UNHEALTHY: ", result.reason());
      if (track->failures >= policy.failure_threshold) {
        host_->Emit(inst.id, "unhealthy", absl::StrCat(result.reason(), "; restarting"));
        host_->FailAndRestart(inst.id, absl::StrCat("unhealthy: ", result.reason()));
        return;
      }
      host_->Emit(inst.id, "unhealthy",
                  absl::StrCat(result.reason(), " (", track->failures, " of ",
                               policy.failure_threshold, ")"));
      break;
    default:
      unknown(result.reason());
      break;
  }
  due_.Set(inst.id, now + next);
}

void HealthChecks::FillInstanceStatus(const module::InstanceView& inst,
                                      fleet::control::v1::InstanceStatus* out) const {
  auto it = tracks_.find(inst.id);
  const Track* track = it == tracks_.end() ? nullptr : &it->second;
  out->set_health_checked_ms_ago(track != nullptr && track->checked_at.has_value()
                                     ? absl::ToInt64Milliseconds(host_->Now() - *track->checked_at)
                                     : -1);
  if (inst.pid == 0 || track == nullptr) return;
  out->set_health(track->verdict);
  const health::HealthPolicy& policy = PolicyOf(inst);
  if (!policy.enabled) return;
  // Progress: the heartbeat where one is declared, else the log; never
  // written is no progress since it started.
  const int64_t idle = IdleMillis(
      inst, *track, policy.heartbeat_path.empty() ? policy.log_path : policy.heartbeat_path);
  out->set_last_progress_ms_ago(
      idle >= 0 ? idle : absl::ToInt64Milliseconds(host_->Now() - inst.spawned_at));
}

}  // namespace fleet::modules
