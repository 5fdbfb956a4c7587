// The lifecycle's actions carried out: a start (made by the RunStarter once
// every gate is open), a stop signal, a kill. Loop thread only.
#include <signal.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "core/log/log.h"
#include "core/os/process.h"
#include "core/supervisor/supervisor.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {

void Supervisor::Perform(Instance* inst, Action action) {
  switch (action) {
    case Action::kNone:
      return;
    case Action::kSpawn:
      if (inst->spawning != 0) return;  // Its start is in flight.
      if (!inst->want_run || inst->retire || state_.shutting_down) {
        inst->life.Stop(state_.now,
                        state_.shutting_down ? "fleetd is shutting down" : "not wanted");
        return;
      }
      if (!adoption_.EarlierCopyGone(inst)) return;  // WAITING for a killed copy to die.
      if (!SpawnGatesOpen(inst)) return;             // WAITING for a module (its state pulled).
      if (starter_.StartedThisPass() && PassOver()) {
        inst->life.Defer(state_.now);  // The next pass starts it.
        return;
      }
      // An operator's command waits for its answer: its first starts are
      // made here, within the pass's budget; every other start off the loop.
      starter_.Start(inst, commands_running_ > 0 && !PassOver());
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

}  // namespace fleet::supervisor
