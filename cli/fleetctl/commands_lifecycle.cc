// fleetctl: `start`, `stop`, `restart`, `run`, `reload`, `shutdown`: changing what runs, and
// waiting until it has.
#include <stdio.h>
#include <sys/stat.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/fleetctl/commands.h"
#include "cli/fleetctl/commands_internal.h"
#include "cli/fleetctl/render.h"
#include "core/defaults/defaults.h"
#include "grpcpp/grpcpp.h"

namespace fleet::cli {

namespace ctl = ::fleet::control::v1;

int Commands::Act(const std::string& verb, const std::vector<std::string>& targets, bool wait) {
  int code = kOk;
  auto stub = Stub(&code);
  if (stub == nullptr) return code;
  // Before: who is meant, and (for restart) their current pids.
  std::map<std::string, int32_t> before;
  if (wait && verb != "run") {
    ctl::GetStatusResponse status;
    grpc::ClientContext context;
    SetDeadline(&context, g_.timeout);
    grpc::Status rpc = stub->GetStatus(&context, ctl::GetStatusRequest(), &status);
    if (!rpc.ok()) return FromRpc(rpc, g_);
    if (absl::Status kept = KeepOnly(targets, &status); !kept.ok()) {
      return Fail(kNotFound, std::string(kept.message()));
    }
    for (const ctl::EngineStatus& e : status.engines()) {
      for (const ctl::InstanceStatus& i : e.instances()) before[i.id()] = i.pid();
    }
  }
  const absl::Time asked = absl::Now();
  for (const std::string& target : targets) {
    grpc::ClientContext context;
    SetDeadline(&context, g_.timeout);
    ctl::TargetRequest request;
    request.set_target(target);
    ctl::ActionResponse response;
    grpc::Status rpc = verb == "start"  ? stub->Start(&context, request, &response)
                       : verb == "stop" ? stub->Stop(&context, request, &response)
                       : verb == "run"  ? stub->RunNow(&context, request, &response)
                                        : stub->Restart(&context, request, &response);
    if (!rpc.ok()) {
      code = FromRpc(rpc, g_);
      continue;
    }
    if (before.empty()) {
      for (const std::string& line : response.changed()) printf("%s\n", line.c_str());
    }
  }
  if (before.empty() || code != kOk) return code;
  return AwaitChange(*stub, verb, before, asked);
}

int Commands::AwaitChange(ctl::FleetControl::Stub& stub, const std::string& verb,
                          std::map<std::string, int32_t> before, absl::Time asked) {
  // A stop may take the engine's whole grace: wait longer than for an answer.
  const absl::Time deadline = asked + (g_.timeout_set ? g_.timeout : absl::Minutes(2));
  int code = kOk;
  while (!before.empty()) {
    ctl::GetStatusResponse status;
    grpc::ClientContext context;
    SetDeadline(&context, g_.timeout);
    grpc::Status rpc = stub.GetStatus(&context, ctl::GetStatusRequest(), &status);
    if (!rpc.ok()) return FromRpc(rpc, g_);
    const std::string took = absl::StrFormat("%.1fs", absl::ToDoubleSeconds(absl::Now() - asked));
    for (const ctl::EngineStatus& e : status.engines()) {
      for (const ctl::InstanceStatus& i : e.instances()) {
        auto it = before.find(i.id());
        if (it == before.end()) continue;
        const ctl::InstanceState s = i.state();
        const bool down = s == ctl::INSTANCE_STATE_STOPPED || s == ctl::INSTANCE_STATE_EXITED ||
                          s == ctl::INSTANCE_STATE_FATAL || s == ctl::INSTANCE_STATE_KILLED;
        const bool up = s == ctl::INSTANCE_STATE_RUNNING || s == ctl::INSTANCE_STATE_IDLE;
        std::string line;
        if (verb == "stop" && down) {
          line = absl::StrCat(i.id(), ": stopped (", took,
                              i.reason().empty() ? "" : ", " + i.reason(), ")");
        } else if (verb != "stop" && up && (verb == "start" || i.pid() != it->second)) {
          line = absl::StrCat(i.id(), ": running (pid ", i.pid(), ", ", took, ")");
        } else if (verb != "stop" &&
                   (s == ctl::INSTANCE_STATE_FATAL || s == ctl::INSTANCE_STATE_EXITED)) {
          line = absl::StrCat(i.id(), ": ", StateName(s), " (", i.reason(), ")");
          code = kFailed;
        } else {
          continue;
        }
        printf("%s\n", line.c_str());
        fflush(stdout);
        before.erase(it);
      }
    }
    if (before.empty()) break;
    if (absl::Now() > deadline) {
      std::vector<std::string> left;
      for (const auto& [id, pid] : before) left.push_back(id);
      return Fail(kFailed, absl::StrCat("still not ", verb == "stop" ? "stopped" : "running",
                                        " after ", absl::FormatDuration(absl::Now() - asked), ": ",
                                        absl::StrJoin(left, ", "),
                                        " (see `fleetctl status` and `fleetctl events`)"));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return code;
}

int Commands::Reload() {
  ctl::ReloadResponse response;
  if (int code = Unary(&ctl::FleetControl::Stub::Reload, ctl::ReloadRequest(), &response,
                       "config refused; the running config stays:\n");
      code != kOk) {
    return code;
  }
  if (g_.json) {
    fputs(Json(response).c_str(), stdout);
    return kOk;
  }
  for (const auto& name : response.added()) printf("added      %s\n", name.c_str());
  for (const auto& name : response.removed()) printf("removed    %s\n", name.c_str());
  for (const auto& name : response.changed()) printf("changed    %s\n", name.c_str());
  printf("unchanged  %d engines\n", response.unchanged_size());
  return kOk;
}

int Commands::Shutdown(bool wait) {
  int code = kOk;
  auto stub = Stub(&code);
  if (stub == nullptr) return code;
  grpc::ClientContext context;
  SetDeadline(&context, g_.timeout);
  ctl::ShutdownResponse response;
  grpc::Status rpc = stub->Shutdown(&context, ctl::ShutdownRequest(), &response);
  if (!rpc.ok()) return FromRpc(rpc, g_);
  printf("fleetd is stopping every engine\n");
  if (!wait) return kOk;
  // fleetd removes its socket as it exits; meanwhile, every 2 s, which
  // instances it still waits on and for how long.
  const std::string socket = defaults::SocketPath(g_.run_dir);
  const absl::Time asked = absl::Now();
  absl::Time deadline = asked + std::max(g_.timeout, absl::Seconds(60));
  absl::Time next_report = asked + absl::Seconds(2);
  struct stat st;
  while (::stat(socket.c_str(), &st) == 0) {
    if (absl::Now() > deadline)
      return Fail(kFailed, "fleetd is still stopping; see `fleetctl events`");
    if (absl::Now() >= next_report) {
      next_report = absl::Now() + absl::Seconds(2);
      ctl::GetStatusResponse status;
      grpc::ClientContext poll;
      SetDeadline(&poll, absl::Seconds(1));
      if (stub->GetStatus(&poll, ctl::GetStatusRequest(), &status).ok()) {
        std::vector<std::string> left;
        for (const ctl::EngineStatus& e : status.engines()) {
          for (const ctl::InstanceStatus& i : e.instances()) {
            if (i.pid() > 0) left.push_back(absl::StrCat(i.id(), " (", StateName(i.state()), ")"));
          }
        }
        if (!left.empty()) {
          printf("after %s, waiting for %s\n",
                 absl::FormatDuration(absl::Trunc(absl::Now() - asked, absl::Seconds(1))).c_str(),
                 absl::StrJoin(left, ", ").c_str());
          fflush(stdout);
        }
      }
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  printf("fleetd stopped\n");
  return kOk;
}

}  // namespace fleet::cli
