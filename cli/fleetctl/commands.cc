// fleetctl's commands (commands.h): calls to fleetd over its socket,
// rendered; no logic beyond formatting and exit codes.
#include "cli/fleetctl/commands.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/fleetctl/client.h"
#include "cli/fleetctl/fleet_finder.h"
#include "cli/fleetctl/json_out.h"
#include "cli/fleetctl/render.h"
#include "cli/fleetctl/starter_config.h"
#include "cli/fleetctl/terminal.h"
#include "core/defaults/defaults.h"
#include "core/fileproto/mkdir_lock.h"
#include "core/os/files.h"
#include "core/os/process.h"
#include "grpcpp/grpcpp.h"

namespace fleet::cli {

namespace ctl = ::fleet::control::v1;

int Fail(int code, const std::string& message) {
  fprintf(stderr, "fleetctl: %s\n", message.c_str());
  return code;
}

int Usage(const std::string& message) {
  fprintf(stderr, "fleetctl: %s\n", message.c_str());
  return kUsage;
}

// fleetd beside this fleetctl (an installed or built tree), else on PATH.
std::string FleetdPath() {
  const std::string self = os::SelfExecutable();
  if (!self.empty()) {
    const std::string beside = os::DirName(self) + "/fleetd";
    if (::access(beside.c_str(), X_OK) == 0) return beside;
  }
  return "fleetd";
}

namespace {

// Whether something accepts connections on the unix socket at path.
bool Listening(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

// "the control socket ... is stale: ..." with what the pid file says.
std::string StaleSocket(const std::string& run_dir) {
  std::string why = absl::StrCat("the control socket ", defaults::SocketPath(run_dir),
                                 " is stale: nothing listens on it");
  // "PID START_TIME": the start time tells a reused pid from fleetd.
  absl::StatusOr<std::string> text = os::ReadUntrustedFileHead(defaults::PidFile(run_dir), 64);
  std::vector<std::string> fields;
  if (text.ok()) fields = absl::StrSplit(absl::StripAsciiWhitespace(*text), ' ');
  int pid = 0;
  uint64_t start = 0;
  if (fields.size() == 2 && absl::SimpleAtoi(fields[0], &pid) && pid > 0 &&
      absl::SimpleAtoi(fields[1], &start)) {
    const bool alive = os::ProcessStartTime(pid) == start;
    absl::StrAppend(&why, " (the pid file names pid ", pid,
                    alive ? ", which runs but does not answer: is it stuck?)"
                          : ", which is not running: fleetd died; start it again)");
  } else {
    absl::StrAppend(&why, " (no pid file: fleetd is not running)");
  }
  return why;
}

// An RPC's failure in fleetctl's words and exit code. fleetd's own errors
// carry its message; what gRPC itself reports (deadlines, connections) is
// said again plainly, never printed as-is. waited: the call's deadline.
int FromRpc(const grpc::Status& status, const Globals& g, absl::Duration waited) {
  const std::string& message = status.error_message();
  const std::string socket = defaults::SocketPath(g.run_dir);
  switch (status.error_code()) {
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      if (message != "Deadline Exceeded") return Fail(kFailed, message);  // fleetd's.
      return Fail(kUnreachable,
                  absl::StrCat("fleetd at ", socket, " did not answer within ",
                               absl::FormatDuration(waited),
                               " (stuck or very busy? see its log and `fleetctl events`; "
                               "--timeout waits longer)"));
    case grpc::StatusCode::UNAVAILABLE:
      if (!Listening(socket)) return Fail(kUnreachable, StaleSocket(g.run_dir));
      return Fail(kUnreachable, message.empty() || absl::StrContains(message, "connect")
                                    ? absl::StrCat("fleetd at ", socket, " closed the connection")
                                    : message);
    case grpc::StatusCode::NOT_FOUND:
      return Fail(kNotFound, message);
    case grpc::StatusCode::INVALID_ARGUMENT:
      return Fail(kUsage, message);
    case grpc::StatusCode::FAILED_PRECONDITION:
      return Fail(kFailed, message);
    default: {
      // Not a code fleetd uses: gRPC's own (a message over its size limit,
      // a broken stream). Its name in words, not the library's text.
      static const char* const kNames[] = {
          "ok",           "cancelled",          "unknown",         "invalid argument",
          "deadline",     "not found",          "already exists",  "permission denied",
          "out of resources (a message too large?)", "failed precondition", "aborted",
          "out of range", "not implemented",    "internal error",  "unavailable",
          "data loss",    "unauthenticated"};
      const int index = static_cast<int>(status.error_code());
      const std::string code = index >= 0 && index < 17 ? kNames[index] : "unknown";
      return Fail(kFailed, absl::StrCat("the call to fleetd at ", socket, " failed (", code, ")"));
    }
  }
}

int FromRpc(const grpc::Status& status, const Globals& g) { return FromRpc(status, g, g.timeout); }

void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
}

}  // namespace

// One unary call under the usual deadline: kOk, or the failure said (in
// fleet's words) and its exit code.
template <typename Request, typename Response>
int Commands::Unary(grpc::Status (ctl::FleetControl::Stub::*method)(grpc::ClientContext*,
                                                                  const Request&, Response*),
                    const Request& request, Response* response) {
  int code = kOk;
  auto stub = Stub(&code);
  if (stub == nullptr) return code;
  grpc::ClientContext context;
  SetDeadline(&context, g_.timeout);
  grpc::Status rpc = ((*stub).*method)(&context, request, response);
  return rpc.ok() ? kOk : FromRpc(rpc, g_);
}

std::string Commands::Json(const google::protobuf::Message& m, bool one_line) const {
  return g_.protojson ? ToJson(m, one_line) : OperatorJson(m, one_line);
}

std::unique_ptr<ctl::FleetControl::Stub> Commands::Stub(int* code) {
  auto stub = Connect(g_.run_dir);
  if (!stub.ok() && stub.status().code() == absl::StatusCode::kUnavailable &&
      !(g_.places.size() == 1 && g_.places[0].from == "--run-dir")) {
    *code = Fail(kUnreachable,
                 absl::StrCat("fleetd is not running: no control socket in ",
                              DescribePlaces(g_.places),
                              "; start it with `fleetd --config PATH`, or name the fleet with "
                              "-c FILE or --run-dir DIR"));
    return nullptr;
  }
  if (!stub.ok()) {
    *code =
        Fail(stub.status().code() == absl::StatusCode::kPermissionDenied ? kFailed : kUnreachable,
             std::string(stub.status().message()));
    return nullptr;
  }
  return *std::move(stub);
}

int Commands::Status(const std::vector<std::string>& targets) {
  ctl::GetStatusResponse status;
  if (int code = Unary(&ctl::FleetControl::Stub::GetStatus, ctl::GetStatusRequest(), &status);
      code != kOk) {
    return code;
  }
  if (!targets.empty()) {
    absl::Status kept = KeepOnly(targets, &status);
    if (!kept.ok()) return Fail(kNotFound, std::string(kept.message()));
  }
  fputs(g_.json ? Json(status).c_str() : RenderStatus(status, g_.color).c_str(), stdout);
  return AllRunning(status) ? kOk : kNotAllRunning;
}

int Commands::Health(bool brief) {
  int code = kOk;
  auto stub = Stub(&code);
  if (stub == nullptr) return code;
  ctl::GetStatusResponse status;
  grpc::ClientContext context;
  SetDeadline(&context, g_.timeout);
  grpc::Status rpc = stub->GetStatus(&context, ctl::GetStatusRequest(), &status);
  if (!rpc.ok()) return FromRpc(rpc, g_);
  if (!brief) {
    fputs(g_.json ? Json(status).c_str() : RenderHealth(status, g_.color).c_str(), stdout);
    return AllHealthy(status) ? kOk : kNotAllRunning;
  }
  ctl::GetPluginsResponse plugins;
  grpc::ClientContext plugins_context;
  SetDeadline(&plugins_context, g_.timeout);
  (void)stub->GetPlugins(&plugins_context, ctl::GetPluginsRequest(), &plugins);
  std::vector<ctl::Event> warnings;
  grpc::ClientContext events_context;
  SetDeadline(&events_context, g_.timeout);
  ctl::StreamEventsRequest request;
  request.set_last(500);
  auto reader = stub->StreamEvents(&events_context, request);
  ctl::Event event;
  while (reader->Read(&event)) {
    if (event.severity() == "warning") warnings.push_back(event);
  }
  (void)reader->Finish();
  if (warnings.size() > 8) warnings.erase(warnings.begin(), warnings.end() - 8);
  fputs(RenderBrief(status, plugins, warnings).c_str(), stdout);
  return AllHealthy(status) ? kOk : kNotAllRunning;
}

int Commands::Top(absl::Duration interval, bool once) {
  int code = kOk;
  auto stub = Stub(&code);
  if (stub == nullptr) return code;
  const bool live = !once && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);
  TerminalMode terminal(live);
  for (;;) {
    ctl::GetStatusResponse status;
    grpc::ClientContext context;
    SetDeadline(&context, g_.timeout);
    grpc::Status rpc = stub->GetStatus(&context, ctl::GetStatusRequest(), &status);
    if (!rpc.ok()) {
      terminal.Restore();
      return FromRpc(rpc, g_);
    }
    winsize size{};
    if (live) ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size);
    std::string frame = RenderTop(status, size.ws_row, size.ws_col, absl::ToUnixMillis(absl::Now()));
    if (!live) {
      fputs(frame.c_str(), stdout);
      return kOk;
    }
    // Home, each line cleared to its end, the rest of the screen cleared:
    // drawn over the last frame, so nothing flickers.
    std::string screen = "\033[H";
    for (absl::string_view line : absl::StrSplit(frame, '\n')) {
      absl::StrAppend(&screen, line, "\033[K\r\n");
    }
    absl::StrAppend(&screen, "\033[J");
    fputs(screen.c_str(), stdout);
    fflush(stdout);
    if (terminal.WaitForQuit(interval)) return kOk;
  }
}

int Commands::Plugins() {
  ctl::GetPluginsResponse response;
  if (int code = Unary(&ctl::FleetControl::Stub::GetPlugins, ctl::GetPluginsRequest(), &response);
      code != kOk) {
    return code;
  }
  fputs(g_.json ? Json(response).c_str() : RenderPlugins(response).c_str(), stdout);
  for (const ctl::PluginInfo& p : response.plugins()) {
    if (!p.error().empty()) return kFailed;
  }
  return kOk;
}

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
        } else if (verb != "stop" && (s == ctl::INSTANCE_STATE_FATAL ||
                                      s == ctl::INSTANCE_STATE_EXITED)) {
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
                                        " after ", absl::FormatDuration(absl::Now() - asked),
                                        ": ", absl::StrJoin(left, ", "),
                                        " (see `fleetctl status` and `fleetctl events`)"));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return code;
}

int Commands::BusSubmit(const std::string& path, const std::string& run) {
  absl::StatusOr<std::string> text = os::ReadFile(path);
  if (!text.ok()) return Fail(kUsage, std::string(text.status().message()));
  ctl::BusSubmitRequest request;
  request.set_dag_text(*text);
  char resolved[PATH_MAX];
  request.set_dag_path(::realpath(path.c_str(), resolved) != nullptr ? resolved : path);
  request.set_run(run);
  ctl::BusSubmitResponse response;
  if (int code = Unary(&ctl::FleetControl::Stub::BusSubmit, request, &response); code != kOk) {
    return code;
  }
  printf("%s\n", response.run().c_str());
  return kOk;
}

int Commands::BusStatus(const std::string& run) {
  ctl::BusStatusRequest request;
  request.set_run(run);
  ctl::BusStatusResponse response;
  if (int code = Unary(&ctl::FleetControl::Stub::BusStatus, request, &response); code != kOk) {
    return code;
  }
  printf("%s", g_.json ? Json(response).c_str() : RenderBusStatus(response).c_str());
  return kOk;
}

int Commands::BusCancelOrRetry(const std::string& run, const std::string& task, bool retry) {
  ctl::ActionResponse response;
  int code = kOk;
  if (!retry) {
    ctl::BusRunRequest request;
    request.set_run(run);
    code = Unary(&ctl::FleetControl::Stub::BusCancel, request, &response);
  } else {
    ctl::BusRetryRequest request;
    request.set_run(run);
    request.set_task(task);
    code = Unary(&ctl::FleetControl::Stub::BusRetry, request, &response);
  }
  if (code != kOk) return code;
  for (const std::string& line : response.changed()) printf("%s\n", line.c_str());
  return kOk;
}

int Commands::Runs(const std::string& target, uint32_t limit) {
  ctl::ListRunsRequest request;
  request.set_target(target);
  request.set_limit(limit);
  ctl::ListRunsResponse response;
  if (int code = Unary(&ctl::FleetControl::Stub::ListRuns, request, &response); code != kOk) {
    return code;
  }
  printf("%s", g_.json ? Json(response).c_str()
                       : RenderRuns(response, absl::ToUnixMillis(absl::Now())).c_str());
  return kOk;
}

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
      printf(
          "%s  %s%s%s\n", i.id().c_str(),
          i.ok() ? "" : "FAILED: ", i.ok() ? i.summary().c_str() : i.error().c_str(),
          i.conflicts().empty()
              ? ""
              : absl::StrCat(" (conflicts: ", absl::StrJoin(i.conflicts(), ", "), ")").c_str());
    }
    if (!i.ok()) code = kFailed;
  }
  return code;
}

std::string Commands::CallerInstance() {
  const char* engine = getenv("FLEET_ENGINE");
  const char* instance = getenv("FLEET_INSTANCE");
  if (engine == nullptr || *engine == '\0') return "";
  return absl::StrCat(engine, "/", instance != nullptr && *instance != '\0' ? instance : "0");
}

int Commands::Logs(const LogOptions& o) {
  int code = kOk;
  auto stub = Stub(&code);
  if (stub == nullptr) return code;
  grpc::ClientContext context;
  if (!o.follow) SetDeadline(&context, g_.timeout);
  ctl::GetLogsRequest request;
  for (const std::string& t : o.targets) request.add_targets(t);
  request.set_lines(o.lines.value_or(o.follow ? 10 : 50));
  request.set_follow(o.follow);
  auto reader = stub->GetLogs(&context, request);
  ctl::LogChunk chunk;
  size_t prefix_width = 0;
  FILE* last = stdout;
  while (reader->Read(&chunk)) {
    if (chunk.instances_size() > 1 && !o.no_prefix) {
      for (const std::string& id : chunk.instances()) prefix_width = std::max(prefix_width, id.size());
    }
    for (const ctl::LogLine& line : chunk.lines()) {
      FILE* to = line.stream() == ctl::LOG_STREAM_STDERR && !g_.json ? stderr : stdout;
      // Both may be one file (2>&1): what went to the other goes out first.
      if (to != last) fflush(last);
      last = to;
      fputs(g_.json ? LogLineJson(line).c_str()
                    : RenderLogLine(line, prefix_width, o.timestamps, g_.color).c_str(),
            to);
    }
    fflush(stdout);
    fflush(stderr);
  }
  grpc::Status rpc = reader->Finish();
  return rpc.ok() ? kOk : FromRpc(rpc, g_);
}

int Commands::Events(bool follow, uint32_t last) {
  int code = kOk;
  auto stub = Stub(&code);
  if (stub == nullptr) return code;
  grpc::ClientContext context;
  if (!follow) SetDeadline(&context, g_.timeout);
  ctl::StreamEventsRequest request;
  request.set_last(last);
  request.set_follow(follow);
  auto reader = stub->StreamEvents(&context, request);
  ctl::Event event;
  while (reader->Read(&event)) {
    fputs(g_.json ? Json(event, /*one_line=*/true).c_str() : RenderEvent(event).c_str(), stdout);
    fflush(stdout);
  }
  grpc::Status rpc = reader->Finish();
  return rpc.ok() ? kOk : FromRpc(rpc, g_);
}

int Commands::Reload() {
  int code = kOk;
  auto stub = Stub(&code);
  if (stub == nullptr) return code;
  grpc::ClientContext context;
  SetDeadline(&context, g_.timeout);
  ctl::ReloadResponse response;
  grpc::Status rpc = stub->Reload(&context, ctl::ReloadRequest(), &response);
  if (!rpc.ok()) {
    if (rpc.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      return Fail(kFailed, absl::StrCat("config refused; the running config stays:\n",
                                        rpc.error_message()));
    }
    return FromRpc(rpc, g_);
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

int Commands::Validate(const std::string& path) {
  // fleetctl links no YAML parser: the daemon binary beside it checks.
  os::SpawnSpec spec;
  spec.argv = {FleetdPath(), "validate", path};
  spec.env = os::CurrentEnvironment();
  spec.inherit_stdio = true;
  absl::StatusOr<pid_t> pid = os::Spawn(spec);
  if (!pid.ok()) return Fail(kFailed, std::string(pid.status().message()));
  os::ExitStatus status = os::WaitProcess(*pid);
  if (status.Success()) return kOk;
  return status.signaled ? kFailed : (status.code == 78 ? kUsage : status.code);
}

int Commands::Init(const std::string& path) {
  FILE* f = fopen(path.c_str(), "wx");  // x: never overwrite what the operator wrote.
  if (f == nullptr) {
    return Fail(kFailed, absl::StrCat("will not write ", path, ": ",
                                      errno == EEXIST ? "it exists" : strerror(errno)));
  }
  fputs(kStarterConfig, f);
  if (fclose(f) != 0) return Fail(kFailed, absl::StrCat("write ", path, ": ", strerror(errno)));
  printf("wrote %s; check it with `fleetctl validate %s`, run it with `fleetd -c %s`\n",
         path.c_str(), path.c_str(), path.c_str());
  return kOk;
}

int Commands::Lock(const std::string& name, absl::Duration wait, const std::vector<std::string>& command) {
  auto lock = fileproto::MkdirLock::Acquire(defaults::LocksDir(g_.run_dir), name, wait);
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

int Commands::Version() {
  printf("fleetctl %s\n", defaults::kVersion);
  auto stub = Connect(g_.run_dir);
  if (!stub.ok()) {
    printf("fleetd: not running\n");
    return kOk;
  }
  grpc::ClientContext context;
  SetDeadline(&context, absl::Seconds(2));
  ctl::GetStatusResponse status;
  if ((*stub)->GetStatus(&context, ctl::GetStatusRequest(), &status).ok()) {
    printf("fleetd %s (pid %d)\n", status.version().c_str(), status.daemon().pid());
  } else {
    printf("fleetd: not reachable\n");
  }
  return kOk;
}

}  // namespace fleet::cli
