#include "core/supervisor/launcher.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "core/os/process.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {

Launcher::Launcher(const std::string& run_dir, OutputCapture* capture, Containment* containment,
                   const Modules* modules, os::Clock* clock)
    : run_dir_(run_dir),
      capture_(capture),
      containment_(containment),
      modules_(modules),
      clock_(clock),
      base_env_(os::CurrentEnvironment()) {}

std::vector<std::string> Launcher::Environment(const Instance& inst) const {
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
  env["FLEET_RUN_DIR"] = run_dir_;
  const module::InstanceView view = ViewOf(const_cast<Instance&>(inst));
  for (const auto& m : *modules_) m->AddEnvironment(view, &env);
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [key, value] : env) out.push_back(absl::StrCat(key, "=", value));
  return out;
}

absl::StatusOr<Launcher::Run> Launcher::Prepare(Instance* inst) {
  const fleet::config::v1::Engine& spec = *inst->engine->spec;
  // A module may take stdout to a file of its own (an intelligence run's
  // answer), which outlives fleetd like the FIFO; stderr still goes to the log.
  const module::InstanceView view = ViewOf(*inst);
  int stdout_fd = -1;
  for (const auto& m : *modules_) {
    if (stdout_fd < 0) stdout_fd = m->OpenStdout(view);
  }
  capture_->Close(&inst->out);
  capture_->Close(&inst->err);
  Run run;
  if (stdout_fd < 0) {
    run.stdout_fifo = StreamFifoPath(run_dir_, spec.name(), inst->index, capture::Stream::kStdout);
  }
  run.stderr_fifo = StreamFifoPath(run_dir_, spec.name(), inst->index, capture::Stream::kStderr);
  os::SpawnSpec& s = run.spec;
  if (spec.shell().empty()) {
    s.argv.assign(spec.command().begin(), spec.command().end());
  } else {
    s.argv = {"/bin/sh", "-c", spec.shell()};
  }
  s.env = Environment(*inst);
  s.cwd = spec.cwd();
  s.output_fd = stdout_fd;  // Else the FIFO's, as it starts.
  run.cgroup_leaf = containment_->NextLeaf(spec.name(), inst->index, clock_->WallNow());
  if (stdout_fd >= 0) run.close_after.push_back(stdout_fd);
  return run;
}

}  // namespace fleet::supervisor
