// Starting and signalling instances: the lifecycle's actions carried out
// (the run itself is started by the Launcher). Loop thread only.
#include <signal.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "core/os/process.h"
#include "core/supervisor/supervisor.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {

void Supervisor::Perform(Instance* inst, Action action) {
  switch (action) {
    case Action::kNone:
      return;
    case Action::kSpawn:
      if (!inst->want_run || inst->retire || state_.shutting_down) {
        inst->life.Stop(state_.now,
                        state_.shutting_down ? "fleetd is shutting down" : "not wanted");
        return;
      }
      if (!adoption_.EarlierCopyGone(inst)) return;  // WAITING for a killed copy to die.
      if (!SpawnGatesOpen(inst)) return;             // WAITING for a module (its state pulled).
      Spawn(inst);
      return;
    case Action::kSendStopSignal:
      SignalInstance(*inst, inst->stop_signal);
      // A stopped (SIGSTOP, frozen) group would hold the signal pending until
      // the grace ran out; wake it so it can act on it (as systemd does).
      SignalInstance(*inst, SIGCONT);
      return;
    case Action::kKill:
      Emit(inst->id, "killed", inst->life.reason());
      SignalInstance(*inst, SIGKILL);
      return;
  }
}

bool Supervisor::SpawnGatesOpen(Instance* inst) {
  const module::InstanceView view = ViewOf(*inst);
  for (const auto& m : modules_) {
    std::optional<std::string> wait = m->SpawnGate(view);
    if (!wait.has_value()) continue;
    inst->gated = true;
    if (!wait->empty() || inst->life.state() != State::kWaiting) {
      inst->life.Wait(wait->empty() ? std::string(m->name()) : *wait);
    }
    return false;
  }
  inst->gated = false;
  return true;
}

void Supervisor::SignalInstance(const Instance& inst, int sig) {
  containment_.Signal(inst.engine->spec->name(), inst.index, inst.pid, sig);
}

void Supervisor::Spawn(Instance* inst) {
  absl::StatusOr<pid_t> pid = launcher_.Launch(inst);
  if (!pid.ok()) {
    const std::string why(pid.status().message());
    inst->life.SpawnFailed(state_.now, why);
    Emit(inst->id, inst->life.state() == State::kFatal ? "fatal" : "spawn_failed",
         inst->life.reason());
    for (const auto& m : modules_) m->OnSpawnFailed(ViewOf(*inst), why);
    return;
  }
  inst->pid = *pid;
  table_.AddPid(*pid, inst);
  inst->started_wall = clock_->WallNow();
  adoption_.Record(*inst);  // So that a fleetd that dies can take it back.
  inst->stop_signal = os::SignalFromName(inst->engine->spec->stop().signal()).value_or(SIGTERM);
  inst->life.Spawned(state_.now);
  Emit(inst->id, "started", absl::StrCat("pid ", *pid));
  for (const auto& m : modules_) m->OnSpawned(ViewOf(*inst));
  capture_.Marker(inst, absl::StrCat("started: pid ", *pid,
                                     inst->life.restarts() > 0
                                         ? absl::StrCat(", restart ", inst->life.restarts())
                                         : ""));
}

}  // namespace fleet::supervisor
