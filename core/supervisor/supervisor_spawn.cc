// Starting and signalling instances: the lifecycle's actions carried out,
// the child's environment, and the spawn itself (FIFOs for its output, a
// fresh cgroup leaf, its pid record for a fleetd that comes back). Loop
// thread only.
#include <signal.h>
#include <unistd.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "core/log/log.h"
#include "core/os/cgroup.h"
#include "core/os/env.h"
#include "core/os/process.h"
#include "core/supervisor/supervisor.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {
namespace {
namespace v1 = ::fleet::config::v1;
}  // namespace

void Supervisor::Perform(Instance* inst, Action action) {
  switch (action) {
    case Action::kNone:
      return;
    case Action::kSpawn:
      if (!inst->want_run || inst->retire || shutting_down_) {
        inst->life.Stop(now_, shutting_down_ ? "fleetd is shutting down" : "not wanted");
        return;
      }
      if (!EarlierCopyGone(inst)) return;  // WAITING for a killed copy to die.
      if (!SpawnGatesOpen(inst)) return;   // WAITING for a module (its state pulled).
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

std::vector<std::string> Supervisor::ChildEnvironment(const Instance& inst) const {
  std::map<std::string, std::string> env;
  for (const std::string& kv : base_env_) {
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  // fleetd's own socket-activation and notify variables are not the child's.
  env.erase("NOTIFY_SOCKET");
  env.erase("LISTEN_FDS");
  env.erase("LISTEN_PID");
  for (const auto& [key, value] : inst.engine->spec->env()) env[key] = value;
  env["FLEET_ENGINE"] = inst.engine->spec->name();
  env["FLEET_INSTANCE"] = absl::StrCat(inst.index);
  env["FLEET_RUN_DIR"] = options_.run_dir;
  const module::InstanceView view = ViewOf(const_cast<Instance&>(inst));
  for (const auto& m : modules_) m->AddEnvironment(view, &env);
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [key, value] : env) out.push_back(absl::StrCat(key, "=", value));
  return out;
}

void Supervisor::SignalInstance(const Instance& inst, int sig) {
  containment_.Signal(inst.engine->spec->name(), inst.index, inst.pid, sig);
}

void Supervisor::Spawn(Instance* inst) {
  const v1::Engine& spec = *inst->engine->spec;
  // Output goes through FIFOs that outlive fleetd (see supervisor_adopt.cc).
  // A module may take stdout to a file of its own (an intelligence run's
  // answer), which outlives fleetd like the FIFO; stderr still goes to the log.
  const module::InstanceView view = ViewOf(*inst);
  int stdout_fd = -1;
  for (const auto& m : modules_) {
    if (stdout_fd < 0) stdout_fd = m->OpenStdout(view);
  }
  int out_fd = -1, err_fd = -1;
  if ((stdout_fd < 0 && !capture_.Open(&inst->out, &out_fd)) ||
      !capture_.Open(&inst->err, &err_fd)) {
    const std::string why = absl::StrCat("pipe: ", strerror(errno));
    for (int fd : {stdout_fd, out_fd}) {
      if (fd >= 0) ::close(fd);
    }
    capture_.Close(&inst->out);
    inst->life.SpawnFailed(now_, why);
    Emit(inst->id, "spawn_failed", inst->life.reason());
    for (const auto& m : modules_) m->OnSpawnFailed(ViewOf(*inst), why);
    return;
  }
  os::SpawnSpec s;
  if (spec.shell().empty()) {
    s.argv.assign(spec.command().begin(), spec.command().end());
  } else {
    s.argv = {"/bin/sh", "-c", spec.shell()};
  }
  s.env = ChildEnvironment(*inst);
  s.cwd = spec.cwd();
  s.output_fd = stdout_fd >= 0 ? stdout_fd : out_fd;
  s.error_fd = err_fd;
  Containment::Leaf leaf =
      containment_.PrepareRun(inst->id, spec.name(), inst->index, clock_->WallNow());
  s.cgroup_fd = leaf.fd;
  inst->run_cgroup = std::move(leaf.path);
  inst->oom_kills_at_start = os::ReadOomKills(inst->run_cgroup);
  absl::StatusOr<pid_t> pid = os::CurrentEnv()->Spawn(s);
  for (int fd : {out_fd, err_fd, stdout_fd, s.cgroup_fd}) {
    if (fd >= 0) ::close(fd);
  }
  if (!pid.ok()) {
    capture_.Close(&inst->out);
    capture_.Close(&inst->err);
    inst->life.SpawnFailed(now_, std::string(pid.status().message()));
    Emit(inst->id, inst->life.state() == State::kFatal ? "fatal" : "spawn_failed",
         inst->life.reason());
    const std::string why(pid.status().message());
    for (const auto& m : modules_) m->OnSpawnFailed(ViewOf(*inst), why);
    return;
  }
  inst->pid = *pid;
  by_pid_[*pid] = inst;
  inst->started_wall = clock_->WallNow();
  RecordInstance(inst);  // So that a fleetd that dies can take it back.
  inst->stop_signal = os::SignalFromName(spec.stop().signal()).value_or(SIGTERM);
  inst->life.Spawned(now_);
  Emit(inst->id, "started", absl::StrCat("pid ", *pid));
  for (const auto& m : modules_) m->OnSpawned(ViewOf(*inst));
  capture_.Marker(inst, absl::StrCat("started: pid ", *pid,
                                 inst->life.restarts() > 0
                                     ? absl::StrCat(", restart ", inst->life.restarts())
                                     : ""));
}

}  // namespace fleet::supervisor
