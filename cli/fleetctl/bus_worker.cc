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

// The worker's name: --worker, else ENGINE.N from fleetd's environment.
std::optional<std::string> WorkerName(const std::string& given, std::string* error) {
  std::string worker = given;
  if (worker.empty()) {
    const char* engine = getenv("FLEET_ENGINE");
    const char* instance = getenv("FLEET_INSTANCE");
    if (engine == nullptr || instance == nullptr) {
      *error = "give --worker NAME (outside fleet, FLEET_ENGINE/FLEET_INSTANCE are not set)";
      return std::nullopt;
    }
    worker = absl::StrCat(engine, ".", instance);
  }
  if (!bus::IsValidId(worker)) {
    *error = absl::StrCat("worker '", worker, "' must be 1 to 100 of [A-Za-z0-9._-]");
    return std::nullopt;
  }
  return worker;
}

}  // namespace

int BusWorker(const std::string& run_dir, const BusWorkerCall& call) {
  std::string error;
  std::optional<std::string> worker = WorkerName(call.worker, &error);
  if (!worker.has_value()) return Say(kUsage, error);
  bus::Mailbox box(os::JoinPath(run_dir, "bus"));
  if (call.verb == "claim") {
    absl::StatusOr<std::optional<bus::Claim>> claim = box.ClaimNext(call.capability, *worker);
    if (!claim.ok()) {
      return Say(claim.status().code() == absl::StatusCode::kInvalidArgument ? kUsage : kFailed,
                 std::string(claim.status().message()));
    }
    if (!claim->has_value()) return kNoTask;
    printf("%s", bus::ToJsonLine((*claim)->task).c_str());
    return kOk;
  }
  std::optional<bus::RecordKey> key = bus::ParseRecordName(call.id + ".json");
  if (!key.has_value()) {
    return Say(kUsage, absl::StrCat("'", call.id,
                                    "' is not a task ID (RUN~TASK~ATTEMPT, as claim prints)"));
  }
  if (call.verb == "heartbeat") {
    absl::Status renewed = box.Heartbeat(*worker, call.id + ".json");
    return renewed.ok() ? kOk : Say(kFailed, std::string(renewed.message()));
  }
  v1::ResultFile result;
  result.set_run(key->run);
  result.set_task(key->task);
  result.set_attempt(key->attempt);
  result.set_worker(*worker);
  if (call.verb == "complete") {
    std::string output;
    if (call.result_file == "-") {
      output.assign(std::istreambuf_iterator<char>(std::cin), {});
    } else {
      absl::StatusOr<std::string> text = os::ReadFile(call.result_file);
      if (!text.ok()) return Say(kFailed, std::string(text.status().message()));
      output = *text;
    }
    if (output.size() > bus::kMaxRecordBytes / 2) {
      return Say(kUsage, "the result is over 2MB; write it to a file and pass its path");
    }
    result.set_ok(true);
    result.set_output(output);
  } else if (call.verb == "fail") {
    result.set_ok(false);
    result.set_error(call.reason);
  } else {
    return Say(kUsage, absl::StrCat("unknown bus command '", call.verb, "'"));
  }
  absl::Status done = box.Complete(result);
  return done.ok() ? kOk : Say(kFailed, std::string(done.message()));
}

}  // namespace fleet::cli
