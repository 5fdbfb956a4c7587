// fleetctl: queries and commands fleetd over its unix socket. Flags -> RPC ->
// render; no logic beyond formatting and exit codes.
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/fleetctl/bus_worker.h"
#include "cli/fleetctl/client.h"
#include "cli/fleetctl/fleet_finder.h"
#include "cli/fleetctl/install.h"
#include "cli/fleetctl/render.h"
#include "cli/fleetctl/starter_config.h"
#include "core/defaults/defaults.h"
#include "core/fileproto/mkdir_lock.h"
#include "core/os/files.h"
#include "core/os/process.h"
#include "grpcpp/grpcpp.h"

namespace fleet::cli {
namespace {

namespace ctl = ::fleet::control::v1;

// Exit codes (also in --help and the README).
constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;
constexpr int kNotAllRunning = 3;
constexpr int kNotFound = 4;
constexpr int kUnreachable = 5;

constexpr char kUsageText[] =
    R"(usage: fleetctl [-c FILE | --run-dir DIR] [-o table|json] [--timeout D] COMMAND [ARGS]

Commands:
  status [-o json]              every instance: state, pid, uptime, restarts, reason
  health [-o json]              is each instance alive and progressing, and its kill condition
  brief                         one screen: counts, what needs attention and why, warnings
  plugins                       loaded plugins, their versions, and why any was refused
  start|stop|restart TARGET...  TARGET is ENGINE, ENGINE/N or all
  run TARGET...                 start a run of a cron or intelligence engine now
  bus submit DAG [--run NAME]   start a run of a DAG file (YAML or JSON) on the work-bus
  bus status [RUN] [-o json]    runs and their tasks: state, attempt, worker, duration, why
  bus cancel RUN                end every task of RUN not ended yet
  bus retry RUN TASK            run a failed (or skipped) TASK again, and what it held up
  bus claim --capability C      (workers) take the next task of C: prints its JSON, exit 3 if none
  bus complete ID --result F    (workers) hand in the result (F: a file, '-' for stdin)
  bus fail ID --reason TEXT     (workers) report that the task failed
  bus heartbeat ID              (workers) renew the claim's lease
                                (--worker NAME, default $FLEET_ENGINE.$FLEET_INSTANCE)
  runs TARGET [-n N] [-o json]  its last runs, newest first: trigger, duration, verdict
  logs TARGET [-f] [-n N]       an instance's captured output (ENGINE means ENGINE/0)
  events [-f] [-n N]            what fleetd did, newest last
  reload                        re-read the config; apply only what changed
  shutdown [--no-wait]          stop every engine in reverse dependency order; fleetd exits
  validate PATH                 check a config without a daemon (runs `fleetd validate`)
  init [PATH]                   write a commented starter config (default fleet.yaml)
  lock NAME [--wait D] -- CMD   run CMD holding the run dir's mkdir lock NAME
  sync [TARGET]                 pull the shared state of TARGET's work trees now
  commit -m MSG [TARGET]        commit everything in TARGET's work trees and push it
                                (TARGET defaults to the calling instance, from
                                $FLEET_ENGINE/$FLEET_INSTANCE, as set by fleetd)
  install systemd --config PATH  write a systemd unit for fleetd (Type=notify, watchdog,
                                Restart=always); --print shows it, --unit-dir, --name, --force
  version                       fleetctl's and fleetd's versions

The fleet: --run-dir DIR; else -c/--config FILE (its run_dir); else ./fleet.yaml
in the current directory; else $FLEET_RUN_DIR; else ~/.fleet/run. Without a
flag, the first of these whose fleetd is running is used.
Colours only on a terminal (and never with NO_COLOR set).

Exit codes: 0 ok; 1 the operation failed; 2 usage error or invalid input;
3 (status) not every instance is RUNNING (or IDLE), (health, brief) something that
should run is not running and healthy; 4 no such engine or instance;
5 fleetd is not running or cannot be reached. `lock` exits with CMD's status.
)";

struct Globals {
  std::string run_dir;
  std::string run_dir_flag;  // --run-dir
  std::string config_flag;   // -c/--config
  // Where the fleet was looked for (see fleet_finder.h), for errors.
  std::vector<FleetPlace> places;
  bool json = false;
  bool color = false;
  absl::Duration timeout = absl::Seconds(15);
  bool timeout_set = false;  // --timeout given: it wins over a command's own default
};

int Fail(int code, const std::string& message) {
  fprintf(stderr, "fleetctl: %s\n", message.c_str());
  return code;
}

int Usage(const std::string& message) {
  fprintf(stderr, "fleetctl: %s\nRun `fleetctl --help` for usage.\n", message.c_str());
  return kUsage;
}

// fleetd beside this fleetctl (an installed or built tree), else on PATH.
std::string FleetdPath() {
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    std::string dir(self, static_cast<size_t>(n));
    dir.resize(dir.rfind('/'));
    if (::access((dir + "/fleetd").c_str(), X_OK) == 0) return dir + "/fleetd";
  }
  return "fleetd";
}

int FromRpc(const grpc::Status& status, const Globals& g) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      return Fail(kUnreachable,
                  absl::StrCat("cannot reach fleetd at ", defaults::SocketPath(g.run_dir), ": ",
                               status.error_message()));
    case grpc::StatusCode::NOT_FOUND:
      return Fail(kNotFound, status.error_message());
    case grpc::StatusCode::INVALID_ARGUMENT:
      return Fail(kUsage, status.error_message());
    default:
      return Fail(kFailed, status.error_message());
  }
}

void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
}

// Parses "-n N" / "-f" style flags of a streaming command.
bool StreamFlags(std::vector<std::string>& args, bool* follow, uint32_t* lines,
                 std::string* error) {
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-f" || args[i] == "--follow") {
      *follow = true;
    } else if (args[i] == "-n" || args[i] == "--lines") {
      if (i + 1 >= args.size() || !absl::SimpleAtoi(args[i + 1], lines)) {
        *error = "-n needs a number";
        return false;
      }
      ++i;
    } else {
      rest.push_back(args[i]);
    }
  }
  args = rest;
  return true;
}

class Commands {
 public:
  explicit Commands(Globals g) : g_(std::move(g)) {}

  int Run(const std::string& command, std::vector<std::string> args) {
    if (command == "status") return Status(args);
    if (command == "health") return Health(args, false);
    if (command == "brief") return Health(args, true);
    if (command == "plugins") return Plugins(args);
    if (command == "start") return Act(command, args);
    if (command == "stop") return Act(command, args);
    if (command == "restart") return Act(command, args);
    if (command == "run") return Act(command, args);
    if (command == "runs") return Runs(args);
    if (command == "bus") return Bus(args);
    if (command == "logs") return Logs(args);
    if (command == "events") return Events(args);
    if (command == "reload") return Reload(args);
    if (command == "shutdown") return Shutdown(args);
    if (command == "validate") return Validate(args);
    if (command == "init") return Init(args);
    if (command == "lock") return Lock(args);
    if (command == "sync") return SyncState(args, false);
    if (command == "install") return Install(args);
    if (command == "commit") return SyncState(args, true);
    if (command == "version") return Version();
    return Usage(absl::StrCat("unknown command '", command, "'"));
  }

 private:
  // Connects or prints why not; returns nullptr on failure (code in *code).
  std::unique_ptr<ctl::FleetControl::Stub> Stub(int* code) {
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

  // Accepts only "-o json|table" after a command; false (and a usage error in
  // *code) for anything else.
  bool OutputFlagOnly(const std::string& command, const std::vector<std::string>& args, int* code) {
    for (size_t i = 0; i < args.size(); ++i) {
      if (args[i] == "-o" && i + 1 < args.size() &&
          (args[i + 1] == "json" || args[i + 1] == "table")) {
        g_.json = args[++i] == "json";
      } else {
        *code =
            Usage(args[i] == "-o" ? "-o takes table or json"
                                  : absl::StrCat(command, " takes no argument '", args[i], "'"));
        return false;
      }
    }
    return true;
  }

  // At most one NAME, and -o json|table before or after it; false (and a
  // usage error in *code) for anything else.
  bool OneNameAndOutputFlag(const std::string& command, const std::vector<std::string>& args,
                            std::string* name, int* code) {
    std::vector<std::string> flags;
    for (size_t i = 0; i < args.size(); ++i) {
      if (args[i] == "-o") {
        flags.push_back(args[i]);
        if (i + 1 < args.size()) flags.push_back(args[++i]);
      } else if (name->empty() && args[i].rfind("-", 0) != 0) {
        *name = args[i];
      } else {
        flags.push_back(args[i]);
      }
    }
    return OutputFlagOnly(command, flags, code);
  }

  int Status(std::vector<std::string>& args) {
    int usage = kOk;
    if (!OutputFlagOnly("status", args, &usage)) return usage;
    int code = kOk;
    auto stub = Stub(&code);
    if (stub == nullptr) return code;
    grpc::ClientContext context;
    SetDeadline(&context, g_.timeout);
    ctl::GetStatusResponse status;
    grpc::Status rpc = stub->GetStatus(&context, ctl::GetStatusRequest(), &status);
    if (!rpc.ok()) return FromRpc(rpc, g_);
    fputs(g_.json ? ToJson(status).c_str() : RenderStatus(status, g_.color).c_str(), stdout);
    return AllRunning(status) ? kOk : kNotAllRunning;
  }

  int Health(std::vector<std::string>& args, bool brief) {
    int usage = kOk;
    if (brief && !args.empty()) return Usage("brief takes no arguments");
    if (!OutputFlagOnly("health", args, &usage)) return usage;
    int code = kOk;
    auto stub = Stub(&code);
    if (stub == nullptr) return code;
    ctl::GetStatusResponse status;
    grpc::ClientContext context;
    SetDeadline(&context, g_.timeout);
    grpc::Status rpc = stub->GetStatus(&context, ctl::GetStatusRequest(), &status);
    if (!rpc.ok()) return FromRpc(rpc, g_);
    if (!brief) {
      fputs(g_.json ? ToJson(status).c_str() : RenderHealth(status, g_.color).c_str(), stdout);
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

  int Plugins(const std::vector<std::string>& args) {
    if (!args.empty()) return Usage("plugins takes no arguments");
    int code = kOk;
    auto stub = Stub(&code);
    if (stub == nullptr) return code;
    grpc::ClientContext context;
    SetDeadline(&context, g_.timeout);
    ctl::GetPluginsResponse response;
    grpc::Status rpc = stub->GetPlugins(&context, ctl::GetPluginsRequest(), &response);
    if (!rpc.ok()) return FromRpc(rpc, g_);
    fputs(g_.json ? ToJson(response).c_str() : RenderPlugins(response).c_str(), stdout);
    for (const ctl::PluginInfo& p : response.plugins()) {
      if (!p.error().empty()) return kFailed;
    }
    return kOk;
  }

  int Act(const std::string& verb, const std::vector<std::string>& targets) {
    if (targets.empty())
      return Usage(absl::StrCat(verb, " needs a TARGET (ENGINE, ENGINE/N or all)"));
    int code = kOk;
    auto stub = Stub(&code);
    if (stub == nullptr) return code;
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
      for (const std::string& line : response.changed()) printf("%s\n", line.c_str());
    }
    return code;
  }

  // fleetctl bus VERB ...
  int Bus(std::vector<std::string> args) {
    if (args.empty())
      return Usage("bus takes submit, status, cancel, retry, claim, complete, fail or heartbeat");
    const std::string verb = args[0];
    args.erase(args.begin());
    if (verb == "claim" || verb == "complete" || verb == "fail" || verb == "heartbeat") {
      return BusWorker(g_.run_dir, verb, args);
    }
    int code = kOk;
    if (verb == "submit") {
      std::string run, path;
      for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--run" && i + 1 < args.size()) {
          run = args[++i];
        } else if (path.empty() && args[i].rfind("-", 0) != 0) {
          path = args[i];
        } else {
          return Usage(
              absl::StrCat("bus submit takes DAG [--run NAME]; unexpected '", args[i], "'"));
        }
      }
      if (path.empty()) return Usage("bus submit needs a DAG file");
      absl::StatusOr<std::string> text = os::ReadFile(path);
      if (!text.ok()) return Fail(kUsage, std::string(text.status().message()));
      auto stub = Stub(&code);
      if (stub == nullptr) return code;
      grpc::ClientContext context;
      SetDeadline(&context, g_.timeout);
      ctl::BusSubmitRequest request;
      request.set_dag_text(*text);
      char resolved[PATH_MAX];
      request.set_dag_path(::realpath(path.c_str(), resolved) != nullptr ? resolved : path);
      request.set_run(run);
      ctl::BusSubmitResponse response;
      grpc::Status rpc = stub->BusSubmit(&context, request, &response);
      if (!rpc.ok()) return FromRpc(rpc, g_);
      printf("%s\n", response.run().c_str());
      return kOk;
    }
    if (verb == "status") {
      std::string run;
      if (!OneNameAndOutputFlag("bus status", args, &run, &code)) return code;
      auto stub = Stub(&code);
      if (stub == nullptr) return code;
      grpc::ClientContext context;
      SetDeadline(&context, g_.timeout);
      ctl::BusStatusRequest request;
      request.set_run(run);
      ctl::BusStatusResponse response;
      grpc::Status rpc = stub->BusStatus(&context, request, &response);
      if (!rpc.ok()) return FromRpc(rpc, g_);
      printf("%s", g_.json ? (ToJson(response) + "\n").c_str() : RenderBusStatus(response).c_str());
      return kOk;
    }
    if (verb == "cancel" || verb == "retry") {
      const size_t want = verb == "cancel" ? 1 : 2;
      if (args.size() != want)
        return Usage(verb == "cancel" ? "bus cancel RUN" : "bus retry RUN TASK");
      auto stub = Stub(&code);
      if (stub == nullptr) return code;
      grpc::ClientContext context;
      SetDeadline(&context, g_.timeout);
      ctl::ActionResponse response;
      grpc::Status rpc;
      if (verb == "cancel") {
        ctl::BusRunRequest request;
        request.set_run(args[0]);
        rpc = stub->BusCancel(&context, request, &response);
      } else {
        ctl::BusRetryRequest request;
        request.set_run(args[0]);
        request.set_task(args[1]);
        rpc = stub->BusRetry(&context, request, &response);
      }
      if (!rpc.ok()) return FromRpc(rpc, g_);
      for (const std::string& line : response.changed()) printf("%s\n", line.c_str());
      return kOk;
    }
    return Usage(absl::StrCat("unknown bus command '", verb, "'"));
  }

  // fleetctl runs TARGET [-n N].
  int Runs(std::vector<std::string> args) {
    bool follow = false;
    uint32_t limit = 20;
    std::string error;
    if (!StreamFlags(args, &follow, &limit, &error)) return Usage(error);
    if (follow) return Usage("runs does not follow; watch `fleetctl events -f` instead");
    std::string target;
    int usage = kOk;
    if (!OneNameAndOutputFlag("runs", args, &target, &usage)) return usage;
    if (target.empty()) return Usage("runs needs one TARGET (ENGINE or ENGINE/N)");
    int code = kOk;
    auto stub = Stub(&code);
    if (stub == nullptr) return code;
    grpc::ClientContext context;
    SetDeadline(&context, g_.timeout);
    ctl::ListRunsRequest request;
    request.set_target(target);
    request.set_limit(limit);
    ctl::ListRunsResponse response;
    grpc::Status rpc = stub->ListRuns(&context, request, &response);
    if (!rpc.ok()) return FromRpc(rpc, g_);
    printf("%s", g_.json ? (ToJson(response) + "\n").c_str()
                         : RenderRuns(response, absl::ToUnixMillis(absl::Now())).c_str());
    return kOk;
  }

  // fleetctl sync [TARGET] / fleetctl commit -m MSG [TARGET].
  int SyncState(const std::vector<std::string>& args, bool commit) {
    const char* verb = commit ? "commit" : "sync";
    std::string message;
    std::vector<std::string> targets;
    for (size_t i = 0; i < args.size(); ++i) {
      if (commit && (args[i] == "-m" || args[i] == "--message")) {
        if (i + 1 >= args.size()) return Usage("-m needs a commit message");
        message = args[++i];
      } else if (!args[i].empty() && args[i][0] == '-') {
        return Usage(absl::StrCat(verb, ": unknown flag '", args[i], "'"));
      } else {
        targets.push_back(args[i]);
      }
    }
    if (commit && message.empty()) return Usage("commit needs -m MSG");
    if (targets.size() > 1) return Usage(absl::StrCat(verb, " takes one TARGET"));
    std::string target = targets.empty() ? CallerInstance() : targets[0];
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
    if (!rpc.ok()) return FromRpc(rpc, g_);
    if (g_.json) {
      fputs(ToJson(response).c_str(), stdout);
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

  // "ENGINE/N" of the instance this runs in, from the environment fleetd
  // gives it; "" outside one.
  static std::string CallerInstance() {
    const char* engine = getenv("FLEET_ENGINE");
    const char* instance = getenv("FLEET_INSTANCE");
    if (engine == nullptr || *engine == '\0') return "";
    return absl::StrCat(engine, "/", instance != nullptr && *instance != '\0' ? instance : "0");
  }

  int Logs(std::vector<std::string>& args) {
    bool follow = false;
    uint32_t lines = 0;
    std::string error;
    if (!StreamFlags(args, &follow, &lines, &error)) return Usage(error);
    if (args.size() != 1) return Usage("logs needs exactly one TARGET (ENGINE or ENGINE/N)");
    int code = kOk;
    auto stub = Stub(&code);
    if (stub == nullptr) return code;
    grpc::ClientContext context;
    if (!follow) SetDeadline(&context, g_.timeout);
    ctl::GetLogsRequest request;
    request.set_target(args[0]);
    request.set_lines(lines == 0 && !follow ? 50 : lines == 0 ? 10 : lines);
    request.set_follow(follow);
    auto reader = stub->GetLogs(&context, request);
    ctl::LogChunk chunk;
    while (reader->Read(&chunk)) {
      fwrite(chunk.data().data(), 1, chunk.data().size(), stdout);
      fflush(stdout);
    }
    grpc::Status rpc = reader->Finish();
    return rpc.ok() ? kOk : FromRpc(rpc, g_);
  }

  int Events(std::vector<std::string>& args) {
    bool follow = false;
    uint32_t last = 20;
    std::string error;
    if (!StreamFlags(args, &follow, &last, &error)) return Usage(error);
    if (!args.empty()) return Usage(absl::StrCat("events takes no argument '", args[0], "'"));
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
      fputs(g_.json ? ToJson(event).c_str() : RenderEvent(event).c_str(), stdout);
      fflush(stdout);
    }
    grpc::Status rpc = reader->Finish();
    return rpc.ok() ? kOk : FromRpc(rpc, g_);
  }

  int Reload(const std::vector<std::string>& args) {
    if (!args.empty()) return Usage("reload takes no arguments");
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
      fputs(ToJson(response).c_str(), stdout);
      return kOk;
    }
    for (const auto& name : response.added()) printf("added      %s\n", name.c_str());
    for (const auto& name : response.removed()) printf("removed    %s\n", name.c_str());
    for (const auto& name : response.changed()) printf("changed    %s\n", name.c_str());
    printf("unchanged  %d engines\n", response.unchanged_size());
    return kOk;
  }

  int Shutdown(const std::vector<std::string>& args) {
    bool wait = true;
    for (const std::string& a : args) {
      if (a != "--no-wait") return Usage(absl::StrCat("shutdown takes no argument '", a, "'"));
      wait = false;
    }
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
    // fleetd removes its socket as it exits.
    const std::string socket = defaults::SocketPath(g_.run_dir);
    absl::Time deadline = absl::Now() + std::max(g_.timeout, absl::Seconds(60));
    struct stat st;
    while (::stat(socket.c_str(), &st) == 0) {
      if (absl::Now() > deadline)
        return Fail(kFailed, "fleetd is still stopping; see `fleetctl events`");
      absl::SleepFor(absl::Milliseconds(50));
    }
    printf("fleetd stopped\n");
    return kOk;
  }

  // fleetd beside this fleetctl, else "fleetd" (looked up in PATH).
  int Install(const std::vector<std::string>& args) {
    if (args.empty() || args[0] != "systemd") return Usage("install takes: systemd --config PATH");
    return InstallSystemd(std::vector<std::string>(args.begin() + 1, args.end()), FleetdPath());
  }

  int Validate(const std::vector<std::string>& args) {
    if (args.size() != 1) return Usage("validate needs one PATH (a file or directory)");
    // fleetctl links no YAML parser: the daemon binary beside it checks.
    os::SpawnSpec spec;
    spec.argv = {FleetdPath(), "validate", args[0]};
    spec.env = os::CurrentEnvironment();
    spec.inherit_stdio = true;
    absl::StatusOr<pid_t> pid = os::Spawn(spec);
    if (!pid.ok()) return Fail(kFailed, std::string(pid.status().message()));
    os::ExitStatus status = os::WaitProcess(*pid);
    if (status.Success()) return kOk;
    return status.signaled ? kFailed : (status.code == 78 ? kUsage : status.code);
  }

  int Init(const std::vector<std::string>& args) {
    if (args.size() > 1) return Usage("init takes at most one PATH");
    std::string path = args.empty() ? "fleet.yaml" : args[0];
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

  int Lock(const std::vector<std::string>& args) {
    absl::Duration wait = absl::InfiniteDuration();
    std::string name;
    size_t i = 0;
    for (; i < args.size() && args[i] != "--"; ++i) {
      if (args[i] == "--wait" && i + 1 < args.size()) {
        if (!absl::ParseDuration(args[++i], &wait))
          return Usage("--wait needs a duration such as 30s");
      } else if (name.empty()) {
        name = args[i];
      } else {
        return Usage(absl::StrCat("lock: unexpected '", args[i], "' (put the command after --)"));
      }
    }
    if (name.empty() || i + 1 >= args.size())
      return Usage("usage: fleetctl lock NAME [--wait D] -- CMD [ARGS]");
    auto lock = fileproto::MkdirLock::Acquire(defaults::LocksDir(g_.run_dir), name, wait);
    if (!lock.ok()) {
      return Fail(lock.status().code() == absl::StatusCode::kInvalidArgument ? kUsage : kFailed,
                  std::string(lock.status().message()));
    }
    os::SpawnSpec spec;
    spec.argv.assign(args.begin() + static_cast<long>(i) + 1, args.end());
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

  int Version() {
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

  Globals g_;
};

}  // namespace
}  // namespace fleet::cli

int main(int argc, char** argv) {
  using namespace fleet::cli;
  Globals g;
  const char* no_color = getenv("NO_COLOR");
  const char* term = getenv("TERM");
  g.color = isatty(STDOUT_FILENO) && (no_color == nullptr || *no_color == '\0') &&
            !(term != nullptr && std::string(term) == "dumb");
  int i = 1;
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "help") {
      printf("%s", kUsageText);
      return kOk;
    } else if (arg == "--run-dir" && i + 1 < argc) {
      g.run_dir_flag = argv[++i];
    } else if ((arg == "-c" || arg == "--config") && i + 1 < argc) {
      g.config_flag = argv[++i];
    } else if ((arg == "-o" || arg == "--output") && i + 1 < argc) {
      std::string format = argv[++i];
      if (format != "json" && format != "table") return Usage("-o takes table or json");
      g.json = format == "json";
    } else if (arg == "--no-color") {
      g.color = false;
    } else if (arg == "--timeout" && i + 1 < argc) {
      if (!absl::ParseDuration(argv[++i], &g.timeout))
        return Usage("--timeout needs a duration such as 15s");
      g.timeout_set = true;
    } else if (!arg.empty() && arg[0] == '-') {
      return Usage(absl::StrCat("unknown flag '", arg, "'"));
    } else {
      break;
    }
  }
  if (i >= argc) return Usage("a command is required");
  std::string command = argv[i];
  std::vector<std::string> args(argv + i + 1, argv + argc);
  if (command != "init" && command != "validate" && command != "install") {
    g.places = FleetPlaces(g.run_dir_flag, g.config_flag, FleetdPath());
    g.run_dir = ChooseRunDir(g.places);
    if (g.run_dir.empty()) {
      return Fail(kUsage, absl::StrCat("no fleet to talk to: ", DescribePlaces(g.places)));
    }
  }
  return Commands(g).Run(command, args);
}
