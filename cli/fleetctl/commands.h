// fleetctl's commands: each one a call to fleetd (or, for the bus worker
// verbs, init, validate and lock, work done here), rendered for an operator
// or as JSON, and an exit code. The command table in main.cc parses the
// command line into these calls.
#ifndef FLEET_CLI_FLEETCTL_COMMANDS_H_
#define FLEET_CLI_FLEETCTL_COMMANDS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "cli/fleetctl/bus_worker.h"
#include "cli/fleetctl/fleet_finder.h"
#include "google/protobuf/message.h"
#include "grpcpp/grpcpp.h"
#include "proto/fleet/control/v1/control.grpc.pb.h"

namespace fleet::cli {

// Exit codes (fleetctl --help says what each means).
constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;
constexpr int kNotAllRunning = 3;
constexpr int kNotFound = 4;
constexpr int kUnreachable = 5;

struct Globals {
  std::string run_dir;
  std::string run_dir_flag;  // --run-dir
  std::string config_flag;   // -c/--config
  // Where the fleet was looked for (see fleet_finder.h), for errors.
  std::vector<FleetPlace> places;
  bool json = false;
  bool protojson = false;  // -o protojson: protobuf's own JSON mapping
  bool color = false;
  absl::Duration timeout = absl::Seconds(15);
  bool timeout_set = false;  // --timeout given: it wins over a command's own default
};

struct LogOptions {
  std::vector<std::string> targets;  // None: all.
  bool follow = false;
  std::optional<uint32_t> lines;
  bool timestamps = false;
  bool no_prefix = false;
};

int Fail(int code, const std::string& message);
int Usage(const std::string& message);
// fleetd beside this fleetctl (an installed or built tree), else on PATH.
std::string FleetdPath();

// The commands that need no fleetd (commands_local.cc, commands_state.cc).
// validate: fleetd beside fleetctl checks the file (fleetctl links no YAML).
int ValidateFleetFile(const std::string& path);
// fleetd export ARGS...: the fleet file as another supervisor's units.
int ExportFleet(const std::vector<std::string>& args);
// An exec probe (Kubernetes, a cron check): each file was written within
// its max age (files[i], max_ages[i]). 0 and "ok: ..." when all were; 1
// and which one, how old, otherwise.
int ProbeFiles(const std::vector<std::string>& files, const std::vector<std::string>& max_ages);
// init: a starter fleet file, never over one that exists.
int InitFleetFile(const std::string& path);
// lock NAME -- CMD: CMD runs holding the fleet's lock NAME.
int RunUnderLock(const std::string& run_dir, const std::string& name, absl::Duration wait,
                 const std::vector<std::string>& command);

class Commands {
 public:
  explicit Commands(Globals g) : g_(std::move(g)) {}

  // targets: ENGINE, ENGINE/N or all; none: everything.
  int Status(const std::vector<std::string>& targets);
  int Health(bool brief);
  // A live view until 'q' (or Ctrl-C); once when not on a terminal.
  int Top(absl::Duration interval, bool once);
  int Plugins();
  // What fleetd serves on /metrics, printed (no listener needed).
  int Metrics(bool openmetrics);
  // start/stop/restart/run TARGET...; wait (not for run): until each
  // instance got there, printed as it does.
  int Act(const std::string& verb, const std::vector<std::string>& targets, bool wait);
  int BusSubmit(const std::string& path, const std::string& run);
  int BusStatus(const std::string& run);
  // bus cancel RUN (task empty) or bus retry RUN TASK.
  int BusCancelOrRetry(const std::string& run, const std::string& task, bool retry);
  // fleetctl runs TARGET [-n N].
  int Runs(const std::string& target, uint32_t limit);
  // fleetctl sync [TARGET] / fleetctl commit -m MSG [TARGET].
  int SyncState(const std::string& given, bool commit, const std::string& message);
  // stdout lines to stdout, stderr lines to stderr (as `docker logs`), so
  // `2>/dev/null` keeps only what the workers wrote to stdout.
  int Logs(const LogOptions& o);
  int Events(bool follow, uint32_t last);
  int Reload();
  int Shutdown(bool wait);
  int Version();

 private:
  template <typename Request, typename Response>
  int Unary(grpc::Status (fleet::control::v1::FleetControl::Stub::*method)(grpc::ClientContext*,
                                                                           const Request&,
                                                                           Response*),
            const Request& request, Response* response, const char* when_refused = nullptr);
  // A read command's JSON in the chosen mapping; one_line for streams.
  std::string Json(const google::protobuf::Message& m, bool one_line = false) const;
  // Connects or prints why not; returns nullptr on failure (code in *code).
  std::unique_ptr<fleet::control::v1::FleetControl::Stub> Stub(int* code);
  // Polls status until every instance in `before` got where verb sends it.
  int AwaitChange(fleet::control::v1::FleetControl::Stub& stub, const std::string& verb,
                  std::map<std::string, int32_t> before, absl::Time asked);

  Globals g_;
};

}  // namespace fleet::cli

#endif  // FLEET_CLI_FLEETCTL_COMMANDS_H_
