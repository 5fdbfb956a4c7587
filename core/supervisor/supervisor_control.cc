// The supervisor's answers to the control plane: config apply and reload,
// status, start/stop/restart of targets. Loop thread only.
#include <unistd.h>

#include <cstdint>
#include <future>
#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/defaults/defaults.h"
#include "core/log/log.h"
#include "core/os/process.h"
#include "core/supervisor/supervisor.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {
namespace {
namespace ctl = ::fleet::control::v1;
}  // namespace

ctl::ReloadResponse Supervisor::Apply(const config::LoadedConfig& loaded) {
  state_.dirty = true;
  state_.rewatch = true;
  fleet_name_ = loaded.config.name();
  config_path_ = loaded.path;
  InstanceTable::Applied applied = table_.Apply(loaded.config);
  // A new definition: running instances restart on it (in place, one event each).
  for (Instance* inst : applied.redefined) {
    if (inst->spawning != 0) {
      inst->redefined_while_spawning = true;
      continue;
    }
    Perform(inst, inst->life.Restart(state_.now, "config changed"));
  }
  for (Instance* inst : applied.added) {
    for (const auto& m : modules_) m->OnInstanceAdded(ViewOf(*inst));
  }
  for (const auto& m : modules_) m->OnConfig(loaded);
  WarnIfDescriptorsShort();
  adoption_.TakeBackSurvivors();  // Only at the first Apply: before anything is spawned.
  return std::move(applied.response);
}

void Supervisor::WarnIfDescriptorsShort() {
  // Each instance holds its two output FIFOs and its log open, an adopted
  // one its pidfd too; fleetd itself, its plugins and clients about 64.
  constexpr uint64_t kPerInstance = 4, kFleetd = 64;
  uint64_t instances = 0;
  table_.ForEach([&instances](const Instance*) { ++instances; });
  const uint64_t need = kFleetd + kPerInstance * instances;
  if (options_.file_limit == 0 || need <= options_.file_limit) return;
  // Past the hard limit where fleetd may (root).
  const os::FileLimit raised = os::RaiseFileLimit(need);
  if (raised.now > options_.file_limit) {
    log::Info(absl::StrCat("descriptor limit raised from ", options_.file_limit, " to ", raised.now,
                           " for ", instances, " instances"));
    options_.file_limit = raised.now;
  }
  if (need <= options_.file_limit) return;
  Emit("fleetd", "fd_limit",
       absl::StrCat(instances, " instances need about ", need,
                    " open descriptors and fleetd may have ", options_.file_limit,
                    ": spawns will fail with EMFILE. Raise the hard limit (ulimit -Hn, or "
                    "LimitNOFILE= in fleetd's systemd unit) and restart fleetd"));
}

absl::StatusOr<ctl::ReloadResponse> Supervisor::Reload() {
  if (!options_.load_config) return absl::FailedPreconditionError("no config to reload");
  absl::StatusOr<config::LoadedConfig> loaded = options_.load_config();
  if (!loaded.ok()) {
    Emit("fleetd", "reload_failed",
         absl::StrCat("the running config stays: ", loaded.status().message()));
    return loaded.status();
  }
  if (loaded->config.run_dir() != options_.run_dir) {
    absl::Status status = absl::FailedPreconditionError(
        absl::StrCat("run_dir changed from ", options_.run_dir, " to ", loaded->config.run_dir(),
                     "; that takes a fleetd restart. The running config stays."));
    Emit("fleetd", "reload_failed", std::string(status.message()));
    return status;
  }
  for (const auto& m : modules_) {
    if (absl::Status taken = m->CheckReload(*loaded); !taken.ok()) {
      Emit("fleetd", "reload_failed", std::string(taken.message()));
      return taken;
    }
  }
  ctl::ReloadResponse response = Apply(*loaded);
  Emit(
      "fleetd", "reloaded",
      absl::StrCat(response.added_size(), " added, ", response.removed_size(), " removed, ",
                   response.changed_size(), " changed, ", response.unchanged_size(), " unchanged"));
  return response;
}

absl::StatusOr<ctl::ActionResponse> Supervisor::Act(Verb verb, const std::string& target) {
  if (state_.shutting_down) return absl::UnavailableError("fleetd is shutting down");
  absl::StatusOr<std::vector<Instance*>> targets = table_.Resolve(target);
  if (!targets.ok()) return targets.status();
  ctl::ActionResponse response;
  for (Instance* inst : *targets) {
    table_.MarkChanged(inst);  // What is wanted of it changed, if nothing else.
    State s = inst->life.state();
    switch (verb) {
      case Verb::kStart:
        inst->want_run = true;
        if (inst->life.HasProcess()) {
          response.add_changed(absl::StrCat(inst->id, ": already ", StateName(s)));
        } else {
          inst->life.Reset("start requested");
          response.add_changed(absl::StrCat(inst->id, ": starting"));
        }
        break;
      case Verb::kStop:
        inst->want_run = false;
        if (inst->life.HasProcess() || inst->life.Pending()) {
          Perform(inst, inst->life.Stop(state_.now, "stopped by the operator"));
          response.add_changed(absl::StrCat(inst->id, ": stopping"));
        } else {
          response.add_changed(absl::StrCat(inst->id, ": already ", StateName(s)));
        }
        break;
      case Verb::kRestart:
        inst->want_run = true;
        if (inst->life.HasProcess()) {
          Perform(inst, inst->life.Restart(state_.now, "restart requested"));
        } else {
          inst->life.Reset("restart requested");
        }
        response.add_changed(absl::StrCat(inst->id, ": restarting"));
        break;
    }
  }
  Emit(target,
       verb == Verb::kStart  ? "start"
       : verb == Verb::kStop ? "stop"
                             : "restart",
       "requested by the operator");
  return response;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Supervisor::LogPaths(
    const std::vector<std::string>& targets) {
  std::vector<std::pair<std::string, std::string>> out;
  std::set<const Instance*> seen;
  for (const std::string& target : targets) {
    absl::StatusOr<std::vector<Instance*>> found = table_.Resolve(target);
    if (!found.ok()) return found.status();
    for (const Instance* inst : *found) {
      if (seen.insert(inst).second) out.emplace_back(inst->id, inst->log->path());
    }
  }
  return out;
}

ctl::GetStatusResponse Supervisor::Status() const {
  ctl::GetStatusResponse status;
  StatusCursor cursor;
  FillEngines(table_, modules_, clock_->MonotonicNow(), SIZE_MAX, &cursor, &status);
  status.mutable_daemon()->set_instances(cursor.instances);
  FillFleetStatus(&status);
  return status;
}

void Supervisor::FillUsage(ctl::GetStatusResponse* status) {
  usage_.Fill(status, clock_->MonotonicNow());
  status->mutable_daemon()->set_rss_bytes(os::SelfRssBytes());
  status->mutable_daemon()->set_open_fds(os::SelfOpenFds());
}

bool Supervisor::BuildStatus(std::function<void(ctl::GetStatusResponse)> done) {
  auto build = std::make_shared<StatusBuild>();
  build->done = std::move(done);
  return loop_.Post([this, build] { ContinueStatus(build); });
}

absl::StatusOr<ctl::GetStatusResponse> Supervisor::AwaitStatus(absl::Duration timeout) {
  auto answer = std::make_shared<std::promise<ctl::GetStatusResponse>>();
  std::future<ctl::GetStatusResponse> status = answer->get_future();
  if (!BuildStatus([answer](ctl::GetStatusResponse s) { answer->set_value(std::move(s)); })) {
    return absl::UnavailableError("the supervision loop is not running (fleetd is shutting down)");
  }
  if (status.wait_for(absl::ToChronoMilliseconds(timeout)) != std::future_status::ready) {
    return absl::DeadlineExceededError(
        absl::StrCat("the supervision loop did not answer within ", absl::FormatDuration(timeout)));
  }
  ctl::GetStatusResponse out = status.get();
  FillUsage(&out);  // Here: /proc reads, off the loop.
  return out;
}

void Supervisor::ContinueStatus(std::shared_ptr<StatusBuild> build) {
  FillEngines(table_, modules_, clock_->MonotonicNow(), kStatusRowsPerSlice, &build->cursor,
              &build->status);
  // The loop finishing refuses the post: the answer goes as far as it got.
  if (!build->cursor.done && loop_.Post([this, build] { ContinueStatus(build); })) return;
  build->status.mutable_daemon()->set_instances(build->cursor.instances);
  FillFleetStatus(&build->status);
  build->done(std::move(build->status));
}

void Supervisor::FillFleetStatus(ctl::GetStatusResponse* status) const {
  status->set_fleet(fleet_name_);
  status->set_config_path(config_path_);
  status->set_run_dir(options_.run_dir);
  status->set_version(defaults::kVersion);
  ctl::DaemonStatus* d = status->mutable_daemon();
  d->set_pid(::getpid());
  d->set_started_unix_ms(absl::ToUnixMillis(started_wall_));
  MonoTime now = clock_->MonotonicNow();
  d->set_uptime_ms(absl::ToInt64Milliseconds(now - started_mono_));
  d->set_events(events_->last_seq());
  d->set_loop_lag_ms(absl::ToInt64Milliseconds(loop_lag_));
  d->set_max_loop_lag_ms(absl::ToInt64Milliseconds(max_loop_lag_));
  d->set_loop_passes(loop_passes_.count());
  d->set_loop_pass_p50_us(absl::ToInt64Microseconds(loop_passes_.Percentile(0.5)));
  d->set_loop_pass_p99_us(absl::ToInt64Microseconds(loop_passes_.Percentile(0.99)));
  d->set_loop_pass_max_us(absl::ToInt64Microseconds(loop_passes_.max()));
  d->set_loop_pass_sum_us(static_cast<uint64_t>(absl::ToInt64Microseconds(loop_passes_.sum())));
  for (int i = 0; i < stats::LatencyHistogram::kBuckets; ++i) {
    d->add_loop_pass_buckets(loop_passes_.bucket(i));
  }
  d->set_loop_queue(static_cast<uint32_t>(loop_.queued()));
  d->set_watchdog(watchdog_due_ping_.has_value());
  for (const auto& m : modules_) m->FillStatus(status);
}

}  // namespace fleet::supervisor
