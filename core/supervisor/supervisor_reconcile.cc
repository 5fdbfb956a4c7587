// The desired state: what should run, in dependency order, and shutdown in
// reverse. Level-triggered over what changed: the loop calls Reconcile()
// after any state change, and it looks at the instances that had an event.
// Loop thread only.
#include <signal.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/os/process.h"
#include "core/supervisor/supervisor.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {
namespace {

namespace v1 = ::fleet::config::v1;

}  // namespace

void Supervisor::ReconcileScheduled(Instance* inst, const std::string& unmet) {
  const State s = inst->life.state();
  if (s != State::kWaiting) inst->gated = false;  // What held it is over.
  // A run asked for waits for a module (its state pulled) or a killed copy;
  // each reconcile asks again, and it starts once nothing holds it.
  if (s == State::kWaiting &&
      (inst->gated || !inst->dying.processes.empty() || !inst->dying.cgroups.empty())) {
    Perform(inst, inst->life.Start(state_.now));
    return;
  }
  if (s != State::kStopped && s != State::kWaiting && s != State::kExited && s != State::kFatal) {
    return;
  }
  if (!unmet.empty()) {
    std::string why = absl::StrCat("waiting for ", unmet);
    if (s != State::kWaiting || inst->life.reason() != why) inst->life.Wait(why);
    return;
  }
  inst->life.Idle(s == State::kStopped && inst->life.reason() == "not started"
                      ? "scheduled"
                      : inst->life.reason());
}

void Supervisor::Reconcile() {
  if (state_.shutting_down) {
    ReconcileShutdown();
    return;
  }
  // Only what had an event since the last pass (all of it after a config
  // change): a pass costs what changed, not the size of the fleet.
  const Engine* engine = nullptr;
  std::string unmet;
  for (Instance* inst : table_.TakeChanged()) {
    if (inst->engine != engine) {  // Taken in the table's order: once per engine.
      engine = inst->engine;
      unmet = table_.UnmetDependency(*engine);
    }
    if (inst->retire || !inst->want_run) {
      if (inst->life.HasProcess() || inst->life.Pending()) {
        Perform(inst, inst->life.Stop(state_.now, inst->retire ? "removed" : "stopped"));
      }
      continue;
    }
    State s = inst->life.state();
    if (engine->spec->type() != v1::ENGINE_TYPE_DAEMON) {
      ReconcileScheduled(inst, unmet);
      continue;
    }
    if (s != State::kStopped && s != State::kWaiting) continue;
    if (!unmet.empty()) {
      std::string why = absl::StrCat("waiting for ", unmet);
      if (s != State::kWaiting || inst->life.reason() != why) inst->life.Wait(why);
      continue;
    }
    Perform(inst, inst->life.Start(state_.now));
  }
  // Retired instances leave once stopped (what they watched goes); a
  // removed engine once empty.
  for (const std::string& id : table_.Prune()) {
    for (const auto& m : modules_) m->OnInstanceRemoved(id);
    state_.rewatch = true;
  }
  WatchFiles();
}

void Supervisor::ReconcileShutdown() {
  // Reverse dependency order: an engine stops once nothing that depends on it
  // is still alive.
  for (const auto& [name, engine] : table_.engines()) {
    if (!InstanceTable::Alive(*engine)) continue;
    bool dependents_alive = false;
    for (const auto& [other_name, other] : table_.engines()) {
      if (other.get() == engine.get() || !InstanceTable::Alive(*other)) continue;
      const auto& deps = other->spec->depends_on();
      if (std::find(deps.begin(), deps.end(), name) != deps.end()) dependents_alive = true;
    }
    if (dependents_alive) continue;
    // A helper (a judge still looking at an answer) is not worth waiting for.
    for (pid_t pid : table_.HelpersOf(*engine)) os::SignalGroup(pid, SIGKILL);
    for (auto& inst : engine->instances) {
      if (inst->life.state() == State::kStopping) continue;
      Perform(inst.get(), inst->life.Stop(state_.now, "fleetd is shutting down"));
    }
  }
}

void Supervisor::Shutdown(const std::string& why) {
  if (state_.shutting_down) return;
  state_.shutting_down = true;
  Emit("fleetd", "shutdown", absl::StrCat("stopping every engine (", why, ")"));
}

}  // namespace fleet::supervisor
