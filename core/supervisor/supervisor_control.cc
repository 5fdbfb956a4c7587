// The supervisor's answers to the control plane: config apply and reload,
// start/stop/restart of targets, log paths. Loop thread only.
#include <cstdint>
#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/supervisor/descriptor_budget.h"
#include "core/supervisor/supervisor.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {
namespace {
namespace ctl = ::fleet::control::v1;
}  // namespace

ctl::ReloadResponse Supervisor::Apply(const config::LoadedConfig& loaded) {
  state_.dirty = true;
  state_.rewatch = true;
  reporter_.SetConfig(loaded.config.name(), loaded.path);
  InstanceTable::Applied applied = table_.Apply(loaded.config);
  // A new definition: running instances restart on it (in place, one event each).
  for (Instance* inst : applied.redefined) {
    if (inst->spawning != 0) {
      inst->redefined_while_spawning = true;
      continue;
    }
    Perform(inst, inst->life.Restart(state_.now, "config changed", RestartCause::kConfig));
  }
  for (Instance* inst : applied.added) {
    for (const auto& m : modules_) m->OnInstanceAdded(ViewOf(*inst));
  }
  for (const auto& m : modules_) m->OnConfig(loaded);
  uint64_t instances = 0;
  table_.ForEach([&instances](const Instance*) { ++instances; });
  if (std::string short_of = CheckDescriptorBudget(instances, &options_.file_limit);
      !short_of.empty()) {
    Emit("fleetd", "fd_limit", short_of);
  }
  adoption_.TakeBackSurvivors();  // Only at the first Apply: before anything is spawned.
  return std::move(applied.response);
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
    response.add_changed(ApplyVerb(verb, inst, state_.now,
                                   [this](Instance* i, Action action) { Perform(i, action); }));
  }
  Emit(target, VerbName(verb), "requested by the operator");
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

}  // namespace fleet::supervisor
