// Health checks in the loop: scheduled per instance (at the plugin's
// "recheck_in" hint, or the period), run on the monitor's worker, acted on
// here. Loop thread only.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/supervisor/supervisor.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {
namespace {

namespace pv1 = ::fleet::plugin::v1;

}  // namespace

void Supervisor::StartHealthChecks(Instance* inst) {
  const health::HealthPolicy& policy = inst->engine->health;
  inst->health_failures = 0;
  inst->unhealthy = false;
  inst->started_healthy = false;
  inst->last_output.reset();
  inst->health_checked_at.reset();
  if (!policy.enabled || options_.health == nullptr) {
    inst->health.clear();
    return;
  }
  if (!options_.health->HasCheck(policy.check)) {
    inst->health = absl::StrCat("unknown: health plugin '", policy.check,
                                "' is not loaded (see fleetd's log)");
    return;
  }
  inst->health = "pending";
  inst->health_due = now_ + policy.initial_delay;
}

int64_t Supervisor::IdleMillis(const Instance& inst, const std::string& path) const {
  std::optional<MonoTime> changed;
  if (path.empty()) {
    changed = inst.last_output;
  } else {
    auto it = file_changed_at_.find(path);
    if (it != file_changed_at_.end()) changed = it->second;
  }
  // A new process gets its full window: what happened before it does not count.
  const MonoTime since =
      changed.has_value() ? std::max(*changed, inst.life.spawned_at()) : inst.life.spawned_at();
  absl::Duration idle = now_ - since;
  // Time fleetd was not watching is nobody's idleness.
  const bool stalled_since = last_stall_.has_value() && since < last_stall_->end;
  if (stalled_since) {
    idle -= last_stall_->end - std::max(since, last_stall_->start);
    idle = std::max(idle, absl::ZeroDuration());
  }
  if (!changed.has_value() && !stalled_since) return -1;  // Never written: the whole uptime.
  return absl::ToInt64Milliseconds(idle);
}

void Supervisor::SubmitHealthCheck(Instance* inst) {
  inst->health_due.reset();
  if (!inst->life.HasProcess() || inst->life.state() == State::kStopping) return;
  const health::HealthPolicy& policy = inst->engine->health;
  if (inst->health_in_flight) {
    // An in-process call cannot be interrupted: say so instead of waiting
    // silently, and look again later.
    absl::Duration waiting = now_ - inst->health_submitted_at;
    if (waiting > policy.timeout) {
      inst->health = absl::StrCat("unknown: plugin ", policy.check, " has not answered for ",
                                  absl::FormatDuration(absl::Trunc(waiting, absl::Seconds(1))),
                                  " (hung in fleetd? isolation: process can stop it)");
    }
    inst->health_due = now_ + policy.period;
    return;
  }
  health::CheckJob job;
  job.instance_id = inst->id;
  job.seq = ++inst->health_seq;
  job.check = policy.check;
  job.timeout = policy.timeout;
  pv1::HealthCheckRequest& r = job.request;
  r.set_engine(inst->engine->spec->name());
  r.set_index(inst->index);
  r.set_pid(inst->pid);
  *r.mutable_spec() = policy.spec;
  r.set_uptime_ms(absl::ToInt64Milliseconds(now_ - inst->life.spawned_at()));
  r.set_log_path(policy.log_path.empty() ? inst->log->path() : policy.log_path);
  r.set_log_idle_ms(IdleMillis(*inst, policy.log_path));
  r.set_heartbeat_path(policy.heartbeat_path);
  if (!policy.heartbeat_path.empty()) {
    r.set_heartbeat_idle_ms(IdleMillis(*inst, policy.heartbeat_path));
  }
  if (policy.spec.exec_command_size() > 0) {
    job.exec.argv.assign(policy.spec.exec_command().begin(), policy.spec.exec_command().end());
    job.exec.env = ChildEnvironment(*inst);
    job.exec.cwd = inst->engine->spec->cwd();
  }
  inst->health_in_flight = true;
  inst->health_submitted_at = now_;
  // Look again if no answer comes (the answer reschedules this).
  inst->health_due = now_ + policy.timeout + absl::Seconds(1);
  options_.health->Submit(std::move(job));
}

void Supervisor::OnHealthOutcome(const health::CheckOutcome& outcome) {
  absl::Status gone;
  std::vector<Instance*> found = Resolve(outcome.instance_id, &gone);
  if (found.size() != 1 || outcome.seq != found[0]->health_seq) return;  // A gone process.
  Instance* inst = found[0];
  inst->health_in_flight = false;
  inst->health_checked_at = now_;
  if (!inst->life.HasProcess() || inst->life.state() == State::kStopping) return;
  const health::HealthPolicy& policy = inst->engine->health;
  absl::Duration next = policy.period;
  // An "unknown" verdict is logged when it starts, not at every check.
  auto unknown = [&](const std::string& why) {
    inst->health = absl::StrCat("unknown: ", why);
    if (!inst->health_unknown) Emit(inst->id, "health_unknown", why);
    inst->health_unknown = true;
  };
  if (!outcome.result.ok()) {
    unknown(std::string(outcome.result.status().message()));
    inst->health_due = now_ + next;
    return;
  }
  if (outcome.result->verdict() != pv1::VERDICT_UNKNOWN) inst->health_unknown = false;
  const pv1::HealthCheckResult& result = *outcome.result;
  if (result.recheck_in_ms() > 0) {
    next = std::min(next, absl::Milliseconds(result.recheck_in_ms()));
  }
  switch (result.verdict()) {
    case pv1::VERDICT_HEALTHY:
      inst->started_healthy = true;
      if (inst->unhealthy) Emit(inst->id, "healthy", result.reason());
      inst->unhealthy = false;
      inst->health_failures = 0;
      inst->health = result.reason() == "running" || result.reason() == "progressing"
                         ? "healthy"
                         : absl::StrCat("healthy: ", result.reason());
      break;
    case pv1::VERDICT_UNHEALTHY:
      if (!inst->started_healthy && now_ - inst->life.spawned_at() < policy.startup_grace) {
        // Still booting (a web app that takes a while to listen): not a strike.
        inst->health = absl::StrCat("starting: ", result.reason(), " (allowed for ",
                                    absl::FormatDuration(policy.startup_grace), " after start)");
        break;
      }
      inst->unhealthy = true;
      ++inst->health_failures;
      inst->health = absl::StrCat("UNHEALTHY: ", result.reason());
      if (inst->health_failures >= policy.failure_threshold) {
        Emit(inst->id, "unhealthy", absl::StrCat(result.reason(), "; restarting"));
        Perform(inst, inst->life.FailAndRestart(now_, absl::StrCat("unhealthy: ", result.reason())));
        return;
      }
      Emit(inst->id, "unhealthy",
           absl::StrCat(result.reason(), " (", inst->health_failures, " of ",
                        policy.failure_threshold, ")"));
      break;
    default:
      unknown(result.reason());
      break;
  }
  inst->health_due = now_ + next;
}

}  // namespace fleet::supervisor
