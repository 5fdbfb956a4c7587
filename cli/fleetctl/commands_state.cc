// fleetctl: `sync`, `commit` and `lock`: the shared state and the run directory's locks.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "cli/fleetctl/commands.h"
#include "cli/fleetctl/commands_internal.h"
#include "core/defaults/defaults.h"
#include "core/fileproto/mkdir_lock.h"
#include "core/os/process.h"
#include "grpcpp/grpcpp.h"

namespace fleet::cli {

namespace ctl = ::fleet::control::v1;

namespace {

// "ENGINE/N" of the instance this runs in, from the environment fleetd
// gives it; "" outside one.
std::string CallerInstance() {
  const char* engine = getenv("FLEET_ENGINE");
  const char* instance = getenv("FLEET_INSTANCE");
  if (engine == nullptr || *engine == '\0') return "";
  return absl::StrCat(engine, "/", instance != nullptr && *instance != '\0' ? instance : "0");
}

}  // namespace

int Commands::SyncState(const std::string& given, bool commit, const std::string& message) {
  const char* verb = commit ? "commit" : "sync";
  std::string target = given.empty() ? CallerInstance() : given;
  if (target.empty()) {
    return Usage(absl::StrCat(verb,
                              " needs a TARGET (ENGINE, ENGINE/N or all); run from an "
                              "instance, it defaults to that instance"));
  }
  int code = kOk;
  auto stub = Stub(&code);
  if (stub == nullptr) return code;
  grpc::ClientContext context;
  // A push may be retried for a while: wait longer than for other commands.
  SetDeadline(&context, g_.timeout_set ? g_.timeout : absl::Minutes(5));
  ctl::SyncStateRequest request;
  request.set_target(target);
  request.set_commit(commit);
  request.set_message(message);
  ctl::SyncStateResponse response;
  grpc::Status rpc = stub->SyncState(&context, request, &response);
  if (!rpc.ok()) return FromRpc(rpc, g_, g_.timeout_set ? g_.timeout : absl::Minutes(5));
  if (g_.json) {
    fputs(Json(response).c_str(), stdout);
  }
  for (const ctl::InstanceSync& i : response.instances()) {
    if (!g_.json) {
      printf("%s  %s%s%s\n", i.id().c_str(),
             i.ok() ? "" : "FAILED: ", i.ok() ? i.summary().c_str() : i.error().c_str(),
             i.conflicts().empty()
                 ? ""
                 : absl::StrCat(" (conflicts: ", absl::StrJoin(i.conflicts(), ", "), ")").c_str());
    }
    if (!i.ok()) code = kFailed;
  }
  return code;
}

int RunUnderLock(const std::string& run_dir, const std::string& name, absl::Duration wait,
                 const std::vector<std::string>& command) {
  auto lock = fileproto::MkdirLock::Acquire(defaults::LocksDir(run_dir), name, wait);
  if (!lock.ok()) {
    return Fail(lock.status().code() == absl::StatusCode::kInvalidArgument ? kUsage : kFailed,
                std::string(lock.status().message()));
  }
  os::SpawnSpec spec;
  spec.argv = command;
  spec.env = os::CurrentEnvironment();
  spec.inherit_stdio = true;
  // The lock is released when CMD ends, even if fleetctl is told to stop first.
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  absl::StatusOr<pid_t> pid = os::Spawn(spec);
  if (!pid.ok()) return Fail(kFailed, std::string(pid.status().message()));
  os::ExitStatus status = os::WaitProcess(*pid);
  lock->Release();
  return status.signaled ? 128 + status.signal : status.code;
}

}  // namespace fleet::cli
