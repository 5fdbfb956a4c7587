// The desired state: what should run, in dependency order, and shutdown in
// reverse. Level-triggered: the loop calls Reconcile() after any state change.
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

bool Supervisor::EngineAlive(const Engine& engine) const {
  for (const auto& inst : engine.instances) {
    if (inst->life.HasProcess() || inst->life.Pending() || inst->helpers > 0) return true;
  }
  return false;
}

std::string Supervisor::UnmetDependency(const Engine& engine) const {
  for (const std::string& dep : engine.spec->depends_on()) {
    auto it = engines_.find(dep);
    if (it == engines_.end()) return dep;
    const Engine& d = *it->second;
    uint32_t wanted = 0;
    for (const auto& inst : d.instances) {
      if (!inst->want_run || inst->retire) continue;
      ++wanted;
      // A cycle engine between successful runs (IDLE) counts as up.
      const State st = inst->life.state();
      if ((st != State::kRunning && st != State::kIdle) || inst->unhealthy) return dep;
    }
    if (wanted == 0 && d.spec->replicas() > 0) return dep;
  }
  return "";
}

void Supervisor::ReconcileScheduled(Instance* inst, const std::string& unmet) {
  const State s = inst->life.state();
  if (s != State::kWaiting) inst->gated = false;  // What held it is over.
  // A run asked for waits for a module (its state pulled) or a killed copy;
  // each reconcile asks again, and it starts once nothing holds it.
  if (s == State::kWaiting &&
      (inst->gated || !inst->dying.empty() || !inst->dying_cgroups.empty())) {
    Perform(inst, inst->life.Start(now_));
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
  if (shutting_down_) {
    ReconcileShutdown();
    return;
  }
  for (auto it = engines_.begin(); it != engines_.end();) {
    Engine& engine = *it->second;
    const bool daemon = engine.spec->type() == v1::ENGINE_TYPE_DAEMON;
    const std::string unmet = UnmetDependency(engine);
    for (auto& inst : engine.instances) {
      if (inst->retire || !inst->want_run) {
        if (inst->life.HasProcess() || inst->life.Pending()) {
          Perform(inst.get(), inst->life.Stop(now_, inst->retire ? "removed" : "stopped"));
        }
        continue;
      }
      State s = inst->life.state();
      if (!daemon) {
        ReconcileScheduled(inst.get(), unmet);
        continue;
      }
      if (s != State::kStopped && s != State::kWaiting) continue;
      if (!unmet.empty()) {
        std::string why = absl::StrCat("waiting for ", unmet);
        if (s != State::kWaiting || inst->life.reason() != why) inst->life.Wait(why);
        continue;
      }
      Perform(inst.get(), inst->life.Start(now_));
    }
    // Retired instances leave once stopped; a removed engine once empty.
    auto& v = engine.instances;
    const size_t before = v.size();
    v.erase(std::remove_if(v.begin(), v.end(),
                           [this](const std::unique_ptr<Instance>& i) {
                             if (!i->retire || i->life.HasProcess() || i->helpers > 0) {
                               return false;
                             }
                             for (const auto& m : modules_) m->OnInstanceRemoved(i->id);
                             return true;
                           }),
            v.end());
    if (v.size() != before) rewatch_ = true;  // What they watched goes.
    if (engine.removing && v.empty()) {
      it = engines_.erase(it);
    } else {
      ++it;
    }
  }
  WatchFiles();
}

void Supervisor::ReconcileShutdown() {
  // Reverse dependency order: an engine stops once nothing that depends on it
  // is still alive.
  for (auto& [name, engine] : engines_) {
    if (!EngineAlive(*engine)) continue;
    bool dependents_alive = false;
    for (const auto& [other_name, other] : engines_) {
      if (other.get() == engine.get() || !EngineAlive(*other)) continue;
      const auto& deps = other->spec->depends_on();
      if (std::find(deps.begin(), deps.end(), name) != deps.end()) dependents_alive = true;
    }
    if (dependents_alive) continue;
    for (const auto& [pid, helper] : helpers_) {
      // A helper (a judge still looking at an answer) is not worth waiting for.
      if (helper.inst->engine == engine.get()) os::SignalGroup(pid, SIGKILL);
    }
    for (auto& inst : engine->instances) {
      if (inst->life.state() == State::kStopping) continue;
      Perform(inst.get(), inst->life.Stop(now_, "fleetd is shutting down"));
    }
  }
}

void Supervisor::Shutdown(const std::string& why) {
  if (shutting_down_) return;
  shutting_down_ = true;
  Emit("fleetd", "shutdown", absl::StrCat("stopping every engine (", why, ")"));
}

}  // namespace fleet::supervisor
