// The supervisor's answers to the control plane: config apply and reload,
// status, start/stop/restart of targets. Loop thread only.
#include <unistd.h>

#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/defaults/defaults.h"
#include "core/os/process.h"
#include "core/supervisor/supervisor.h"
#include "core/supervisor/supervisor_internal.h"
#include "google/protobuf/util/message_differencer.h"

namespace fleet::supervisor {
namespace {

namespace v1 = ::fleet::config::v1;
namespace ctl = ::fleet::control::v1;

bool SameExceptReplicas(const v1::Engine& a, const v1::Engine& b) {
  v1::Engine x = a, y = b;
  x.clear_replicas();
  y.clear_replicas();
  return google::protobuf::util::MessageDifferencer::Equals(x, y);
}

}  // namespace

void Supervisor::AddInstances(Engine* engine, uint32_t count) {
  const v1::Engine& spec = *engine->spec;
  for (uint32_t i = 0; i < count; ++i) {
    // A retiring instance with this index comes back instead of a twin.
    if (i < engine->instances.size()) {
      Instance& inst = *engine->instances[i];
      if (inst.retire) {
        inst.retire = false;
        inst.want_run = true;
      }
      continue;
    }
    auto inst =
        std::make_unique<Instance>(engine, i, LifecyclePolicy::FromEngine(spec), Uniform01());
    inst->id = absl::StrCat(spec.name(), "/", i);
    inst->log = std::make_unique<capture::LogSink>(
        absl::StrCat(defaults::LogsDir(options_.run_dir), "/", spec.name(), ".", i, ".log"),
        spec.logs().max_size(), spec.logs().max_files());
    engine->instances.push_back(std::move(inst));
    for (const auto& m : modules_) m->OnInstanceAdded(ViewOf(*engine->instances.back()));
  }
  for (uint32_t i = count; i < engine->instances.size(); ++i) {
    engine->instances[i]->retire = true;
  }
}

ctl::ReloadResponse Supervisor::Apply(const config::LoadedConfig& loaded) {
  ctl::ReloadResponse response;
  dirty_ = true;
  rewatch_ = true;
  fleet_name_ = loaded.config.name();
  config_path_ = loaded.path;
  std::set<std::string> wanted;
  for (const v1::Engine& spec : loaded.config.engines()) {
    wanted.insert(spec.name());
    auto it = engines_.find(spec.name());
    if (it == engines_.end() || it->second->removing) {
      if (it != engines_.end()) {
        // Removed and declared again before it was gone: take it back.
        it->second->removing = false;
      } else {
        it = engines_.emplace(spec.name(), std::make_unique<Engine>()).first;
      }
      SetSpec(it->second.get(), spec);
      AddInstances(it->second.get(), spec.replicas());
      response.add_added(spec.name());
      continue;
    }
    Engine& engine = *it->second;
    const bool same = SameExceptReplicas(*engine.spec, spec);
    const uint32_t old_replicas = engine.spec->replicas();
    const bool rescaled = old_replicas != spec.replicas();
    if (same && !rescaled) {
      response.add_unchanged(spec.name());
      continue;
    }
    SetSpec(&engine, spec);
    for (auto& inst : engine.instances) {
      inst->life.SetPolicy(LifecyclePolicy::FromEngine(spec));
      inst->log->SetLimits(spec.logs().max_size(), spec.logs().max_files());
    }
    if (!same && !engine.scheduled) {
      // A new definition: running instances restart on it (in place, one
      // event each). A scheduled run in progress finishes on the old one;
      // the next run uses the new.
      for (auto& inst : engine.instances) {
        if (inst->life.HasProcess() && !inst->retire) {
          Perform(inst.get(), inst->life.Restart(now_, "config changed"));
        }
      }
    }
    AddInstances(&engine, spec.replicas());
    response.add_changed(rescaled && same ? absl::StrCat(spec.name(), " (replicas ", old_replicas,
                                                         " -> ", spec.replicas(), ")")
                                          : spec.name());
  }
  for (auto& [name, engine] : engines_) {
    if (wanted.count(name) || engine->removing) continue;
    engine->removing = true;
    for (auto& inst : engine->instances) inst->retire = true;
    response.add_removed(name);
  }
  for (const auto& m : modules_) m->OnConfig(loaded);
  AdoptSurvivors();  // Only at the first Apply: before anything is spawned.
  return response;
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

std::vector<Instance*> Supervisor::Resolve(const std::string& target,
                                                       absl::Status* error) {
  std::vector<Instance*> out;
  std::vector<std::string> parts = absl::StrSplit(target, absl::MaxSplits('/', 1));
  auto it = engines_.find(parts[0]);
  if (it == engines_.end() || it->second->removing) {
    if (target == "all") {
      for (auto& [name, engine] : engines_) {
        if (engine->removing) continue;
        for (auto& inst : engine->instances) {
          if (!inst->retire) out.push_back(inst.get());
        }
      }
      return out;
    }
    *error = absl::NotFoundError(absl::StrCat("no engine named '", parts[0], "'"));
    return out;
  }
  Engine& engine = *it->second;
  if (parts.size() == 1) {
    for (auto& inst : engine.instances) {
      if (!inst->retire) out.push_back(inst.get());
    }
    return out;
  }
  uint32_t index = 0;
  if (!absl::SimpleAtoi(parts[1], &index) || index >= engine.instances.size() ||
      engine.instances[index]->retire) {
    *error = absl::NotFoundError(
        absl::StrCat("no instance '", target, "' (", parts[0], " has ", engine.spec->replicas(),
                     " replicas: ", parts[0], "/0 .. ", parts[0], "/",
                     engine.spec->replicas() > 0 ? engine.spec->replicas() - 1 : 0, ")"));
    return out;
  }
  out.push_back(engine.instances[index].get());
  return out;
}

absl::StatusOr<ctl::ActionResponse> Supervisor::Act(Verb verb, const std::string& target) {
  if (shutting_down_) return absl::UnavailableError("fleetd is shutting down");
  absl::Status error;
  std::vector<Instance*> targets = Resolve(target, &error);
  if (!error.ok()) return error;
  ctl::ActionResponse response;
  for (Instance* inst : targets) {
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
          Perform(inst, inst->life.Stop(now_, "stopped by the operator"));
          response.add_changed(absl::StrCat(inst->id, ": stopping"));
        } else {
          response.add_changed(absl::StrCat(inst->id, ": already ", StateName(s)));
        }
        break;
      case Verb::kRestart:
        inst->want_run = true;
        if (inst->life.HasProcess()) {
          Perform(inst, inst->life.Restart(now_, "restart requested"));
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
    absl::Status error;
    std::vector<Instance*> found = Resolve(target, &error);
    if (!error.ok()) return error;
    for (const Instance* inst : found) {
      if (seen.insert(inst).second) out.emplace_back(inst->id, inst->log->path());
    }
  }
  return out;
}


ctl::GetStatusResponse Supervisor::Status() const {
  ctl::GetStatusResponse status;
  status.set_fleet(fleet_name_);
  status.set_config_path(config_path_);
  status.set_run_dir(options_.run_dir);
  status.set_version(defaults::kVersion);
  ctl::DaemonStatus* d = status.mutable_daemon();
  d->set_pid(::getpid());
  d->set_started_unix_ms(absl::ToUnixMillis(started_wall_));
  MonoTime now = clock_->MonotonicNow();
  d->set_uptime_ms(absl::ToInt64Milliseconds(now - started_mono_));
  d->set_rss_bytes(os::SelfRssBytes());
  d->set_open_fds(os::SelfOpenFds());
  d->set_events(events_->last_seq());
  d->set_loop_lag_ms(absl::ToInt64Milliseconds(loop_lag_));
  d->set_max_loop_lag_ms(absl::ToInt64Milliseconds(max_loop_lag_));
  {
    fleet::MutexLock lock(&post_mu_);
    d->set_loop_queue(static_cast<uint32_t>(posted_.size()));
  }
  d->set_watchdog(watchdog_due_ping_.has_value());
  uint32_t instances = 0;
  for (const auto& [name, engine] : engines_) {
    ctl::EngineStatus* e = status.add_engines();
    e->set_name(name);
    e->set_type(EngineTypeName(engine->spec->type()));
    e->set_description(engine->spec->description());
    e->set_replicas(engine->spec->replicas());
    for (const std::string& dep : engine->spec->depends_on()) e->add_depends_on(dep);
    for (const auto& inst : engine->instances) {
      ++instances;
      ctl::InstanceStatus* i = e->add_instances();
      FillInstanceRow(*inst, now, i);
      const module::InstanceView view = ViewOf(*inst);
      for (const auto& m : modules_) m->FillInstanceStatus(view, i);
      if (inst->life.HasProcess() && inst->pid > 0) FillUsage(inst.get(), now, i);
    }
  }
  d->set_instances(instances);
  for (const auto& m : modules_) m->FillStatus(&status);
  return status;
}

}  // namespace fleet::supervisor
