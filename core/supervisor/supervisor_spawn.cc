// Starting and signalling instances: the lifecycle's actions carried out
// (the run itself is started by the Launcher). Loop thread only.
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
      if (spawns_this_pass_ > 0 && PassOver()) {
        inst->life.Defer(state_.now);  // The next pass starts it.
        return;
      }
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
  ++spawns_this_pass_;
  absl::StatusOr<Launcher::Run> run = launcher_.Prepare(inst);
  if (!run.ok()) {
    SpawnFailed(inst, run.status());
    return;
  }
  inst->spawning = ++spawn_tickets_;
  Spawner::Request request{inst->id,
                           inst->spawning,
                           std::move(run->spec),
                           std::move(run->close_after),
                           std::move(run->cgroup_leaf),
                           std::move(run->stdout_fifo),
                           std::move(run->stderr_fifo)};
  // An operator's command waits for its answer: its first starts are made
  // here, within the pass's budget; every other start is made off the loop.
  if (commands_running_ > 0 && !PassOver()) {
    spawner_.StartNow(std::move(request));
  } else {
    spawner_.Start(std::move(request));
  }
}

void Supervisor::SpawnFailed(Instance* inst, const absl::Status& status) {
  const std::string why(status.message());
  inst->life.SpawnFailed(state_.now, why);
  Emit(inst->id, inst->life.state() == State::kFatal ? "fatal" : "spawn_failed",
       inst->life.reason());
  for (const auto& m : modules_) m->OnSpawnFailed(ViewOf(*inst), why);
}

void Supervisor::OnSpawned(Spawner::Done done) {
  state_.dirty = true;
  Instance* inst = table_.Find(done.id);
  if (inst == nullptr || inst->spawning != done.ticket) {
    // Not to be: an instance in flight is never pruned. Nothing may run
    // unsupervised, though.
    if (done.pid.ok() && !done.exited.has_value()) os::SignalGroup(*done.pid, SIGKILL);
    for (int fd : {done.stdout_read, done.stderr_read}) {
      if (fd >= 0) ::close(fd);
    }
    return;
  }
  inst->spawning = 0;
  if (!done.pid.ok()) {
    SpawnFailed(inst, done.pid.status());
    return;
  }
  if (done.stdout_read >= 0) capture_.SetReadEnd(&inst->out, done.stdout_read);
  if (done.stderr_read >= 0) capture_.SetReadEnd(&inst->err, done.stderr_read);
  if (!done.cgroup_error.empty()) {
    log::Warning(absl::StrCat(inst->id, ": started outside a cgroup: ", done.cgroup_error));
  }
  inst->run_cgroup = std::move(done.cgroup);
  inst->oom_kills_at_start = done.oom_kills_at_start;
  const pid_t pid = *done.pid;
  inst->pid = pid;
  table_.AddPid(pid, inst);
  inst->started_wall = done.started_wall;
  adoption_.Record(*inst);  // So that a fleetd that dies can take it back.
  inst->stop_signal = os::SignalFromName(inst->engine->spec->stop().signal()).value_or(SIGTERM);
  inst->life.Spawned(done.started);
  Emit(inst->id, "started", absl::StrCat("pid ", pid));
  for (const auto& m : modules_) m->OnSpawned(ViewOf(*inst));
  capture_.Marker(inst, absl::StrCat("started: pid ", pid,
                                     inst->life.restarts() > 0
                                         ? absl::StrCat(", restart ", inst->life.restarts())
                                         : ""));
  capture_.Watch(&inst->out);  // Its output follows the marker.
  capture_.Watch(&inst->err);
  if (done.exited.has_value()) {  // Reaped before we knew it: its exit now.
    table_.TakePid(pid);
    OnExit(inst, *done.exited);
  } else if (inst->redefined_while_spawning) {
    Perform(inst, inst->life.Restart(state_.now, "config changed"));
  }
  inst->redefined_while_spawning = false;
}

}  // namespace fleet::supervisor
