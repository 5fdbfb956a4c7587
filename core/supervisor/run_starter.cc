#include "core/supervisor/run_starter.h"

#include <signal.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "core/log/log.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {

RunStarter::RunStarter(const CoreParts& parts, Adoption* adoption, std::function<bool()> pass_over,
                       std::function<void(Instance*, const os::ExitStatus&)> on_exit)
    : p_(parts),
      adoption_(adoption),
      on_exit_(std::move(on_exit)),
      spawner_(
          parts.clock,
          [loop = parts.loop](std::function<void()> fn) { return loop->Post(std::move(fn)); },
          [this](Spawner::Done done) { OnStarted(std::move(done)); }, std::move(pass_over)) {}

void RunStarter::Start(Instance* inst, bool now) {
  ++starts_this_pass_;
  absl::StatusOr<Launcher::Run> run = p_.launcher->Prepare(inst);
  if (!run.ok()) {
    Failed(inst, run.status());
    return;
  }
  inst->spawning = ++tickets_;
  Spawner::Request request{inst->id,
                           inst->spawning,
                           std::move(run->spec),
                           std::move(run->close_after),
                           std::move(run->cgroup_leaf),
                           std::move(run->stdout_fifo),
                           std::move(run->stderr_fifo)};
  if (now) {
    spawner_.StartNow(std::move(request));
  } else {
    spawner_.Start(std::move(request));
  }
}

void RunStarter::Failed(Instance* inst, const absl::Status& status) {
  const std::string why(status.message());
  inst->life.SpawnFailed(p_.state->now, why);
  Emit(inst->id, inst->life.state() == State::kFatal ? "fatal" : "spawn_failed",
       inst->life.reason());
  for (const auto& m : *p_.modules) m->OnSpawnFailed(ViewOf(*inst), why);
}

void RunStarter::OnStarted(Spawner::Done done) {
  p_.state->dirty = true;
  Instance* inst = p_.table->Find(done.id);
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
    Failed(inst, done.pid.status());
    return;
  }
  OutputCapture* capture = p_.capture;
  if (done.stdout_read >= 0) capture->SetReadEnd(&inst->out, done.stdout_read);
  if (done.stderr_read >= 0) capture->SetReadEnd(&inst->err, done.stderr_read);
  if (!done.cgroup_error.empty()) {
    log::Warning(absl::StrCat(inst->id, ": started outside a cgroup: ", done.cgroup_error));
  }
  inst->run_cgroup = std::move(done.cgroup);
  inst->oom_kills_at_start = done.oom_kills_at_start;
  const pid_t pid = *done.pid;
  inst->pid = pid;
  p_.table->AddPid(pid, inst);
  inst->started_wall = done.started_wall;
  adoption_->Record(*inst);  // So that a fleetd that dies can take it back.
  inst->stop_signal = os::SignalFromName(inst->engine->spec->stop().signal()).value_or(SIGTERM);
  inst->life.Spawned(done.started);
  Emit(inst->id, "started", absl::StrCat("pid ", pid));
  for (const auto& m : *p_.modules) m->OnSpawned(ViewOf(*inst));
  capture->Marker(inst, absl::StrCat("started: pid ", pid,
                                     inst->life.restarts() > 0
                                         ? absl::StrCat(", restart ", inst->life.restarts())
                                         : ""));
  capture->Watch(&inst->out);  // Its output follows the marker.
  capture->Watch(&inst->err);
  if (done.exited.has_value()) {  // Reaped before we knew it: its exit now.
    p_.table->TakePid(pid);
    on_exit_(inst, *done.exited);
  } else if (inst->redefined_while_spawning) {
    p_.perform(inst, inst->life.Restart(p_.state->now, "config changed", RestartCause::kConfig));
  }
  inst->redefined_while_spawning = false;
}

}  // namespace fleet::supervisor
