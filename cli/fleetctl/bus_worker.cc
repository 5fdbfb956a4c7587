#include "cli/fleetctl/bus_worker.h"

#include <stdio.h>
#include <stdlib.h>

#include <iostream>
#include <iterator>
#include <optional>

#include "absl/strings/str_cat.h"
#include "core/bus/ids.h"
#include "core/bus/json_codec.h"
#include "core/bus/mailbox.h"
#include "core/os/files.h"

namespace fleet::cli {
namespace {

namespace v1 = ::fleet::bus::v1;

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;
constexpr int kNoTask = 3;

int Say(int code, const std::string& message) {
  fprintf(stderr, "fleetctl bus: %s\n", message.c_str());
  return code;
}

// --name VALUE from args; the rest stay in *rest.
std::optional<std::string> Flag(const std::vector<std::string>& args, const std::string& name,
                                std::vector<std::string>* rest, bool* missing_value) {
  std::optional<std::string> value;
  rest->clear();
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == name) {
      if (i + 1 >= args.size()) {
        *missing_value = true;
      } else {
        value = args[++i];
      }
    } else {
      rest->push_back(args[i]);
    }
  }
  return value;
}

// The worker's name: --worker, else ENGINE.N from fleetd's environment.
std::optional<std::string> WorkerName(std::vector<std::string>* args, std::string* error) {
  std::vector<std::string> rest;
  bool missing = false;
  std::optional<std::string> worker = Flag(*args, "--worker", &rest, &missing);
  *args = rest;
  if (missing) {
    *error = "--worker needs a NAME";
    return std::nullopt;
  }
  if (!worker.has_value()) {
    const char* engine = getenv("FLEET_ENGINE");
    const char* instance = getenv("FLEET_INSTANCE");
    if (engine == nullptr || instance == nullptr) {
      *error = "give --worker NAME (outside fleet, FLEET_ENGINE/FLEET_INSTANCE are not set)";
      return std::nullopt;
    }
    worker = absl::StrCat(engine, ".", instance);
  }
  if (!bus::IsValidId(*worker)) {
    *error = absl::StrCat("worker '", *worker, "' must be 1 to 100 of [A-Za-z0-9._-]");
    return std::nullopt;
  }
  return worker;
}

}  // namespace

int BusWorker(const std::string& run_dir, const std::string& verb,
              const std::vector<std::string>& input) {
  std::vector<std::string> args = input;
  std::string error;
  std::optional<std::string> worker = WorkerName(&args, &error);
  if (!worker.has_value()) return Say(kUsage, error);
  bus::Mailbox box(os::JoinPath(run_dir, "bus"));
  if (verb == "claim") {
    std::vector<std::string> rest;
    bool missing = false;
    std::optional<std::string> capability = Flag(args, "--capability", &rest, &missing);
    if (!capability.has_value() || !rest.empty()) {
      return Say(kUsage, "claim takes --capability NAME [--worker NAME]");
    }
    absl::StatusOr<std::optional<bus::Claim>> claim = box.ClaimNext(*capability, *worker);
    if (!claim.ok())
      return Say(claim.status().code() == absl::StatusCode::kInvalidArgument ? kUsage : kFailed,
                 std::string(claim.status().message()));
    if (!claim->has_value()) return kNoTask;
    printf("%s", bus::ToJsonLine((*claim)->task).c_str());
    return kOk;
  }
  // complete | fail | heartbeat ID
  if (args.empty())
    return Say(kUsage, absl::StrCat(verb, " needs the task's ID (RUN~TASK~ATTEMPT)"));
  const std::string id = args[0];
  args.erase(args.begin());
  std::optional<bus::RecordKey> key = bus::ParseRecordName(id + ".json");
  if (!key.has_value()) {
    return Say(kUsage,
               absl::StrCat("'", id, "' is not a task ID (RUN~TASK~ATTEMPT, as claim prints)"));
  }
  if (verb == "heartbeat") {
    if (!args.empty()) return Say(kUsage, "heartbeat takes only the ID");
    absl::Status renewed = box.Heartbeat(*worker, id + ".json");
    return renewed.ok() ? kOk : Say(kFailed, std::string(renewed.message()));
  }
  v1::ResultFile result;
  result.set_run(key->run);
  result.set_task(key->task);
  result.set_attempt(key->attempt);
  result.set_worker(*worker);
  std::vector<std::string> rest;
  bool missing = false;
  if (verb == "complete") {
    std::optional<std::string> file = Flag(args, "--result", &rest, &missing);
    if (!file.has_value() || !rest.empty()) {
      return Say(kUsage, "complete takes ID --result FILE ('-' for stdin)");
    }
    std::string output;
    if (*file == "-") {
      output.assign(std::istreambuf_iterator<char>(std::cin), {});
    } else {
      absl::StatusOr<std::string> text = os::ReadFile(*file);
      if (!text.ok()) return Say(kFailed, std::string(text.status().message()));
      output = *text;
    }
    if (output.size() > bus::kMaxRecordBytes / 2) {
      return Say(kUsage, "the result is over 2MB; write it to a file and pass its path");
    }
    result.set_ok(true);
    result.set_output(output);
  } else if (verb == "fail") {
    std::optional<std::string> reason = Flag(args, "--reason", &rest, &missing);
    if (!reason.has_value() || !rest.empty()) return Say(kUsage, "fail takes ID --reason TEXT");
    result.set_ok(false);
    result.set_error(*reason);
  } else {
    return Say(kUsage, absl::StrCat("unknown bus command '", verb, "'"));
  }
  absl::Status done = box.Complete(result);
  return done.ok() ? kOk : Say(kFailed, std::string(done.message()));
}

}  // namespace fleet::cli
