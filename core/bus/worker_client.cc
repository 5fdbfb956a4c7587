#include "core/bus/worker_client.h"

#include <stdlib.h>

#include "absl/strings/str_cat.h"
#include "core/os/files.h"

namespace fleet::bus {
namespace {

std::string Env(const char* name) {
  const char* value = getenv(name);
  return value == nullptr ? "" : value;
}

}  // namespace

WorkerClient::WorkerClient()
    : WorkerClient(Env("FLEET_RUN_DIR"),
                   absl::StrCat(Env("FLEET_ENGINE"), ".", Env("FLEET_INSTANCE"))) {}

WorkerClient::WorkerClient(std::string run_dir, std::string worker)
    : mailbox_(os::JoinPath(run_dir, "bus")), worker_(std::move(worker)) {}

std::optional<absl::StatusOr<v1::TaskFile>> WorkerClient::Claim(const std::string& capability) {
  absl::StatusOr<std::optional<bus::Claim>> claim = mailbox_.ClaimNext(capability, worker_);
  if (!claim.ok()) return absl::StatusOr<v1::TaskFile>(claim.status());
  if (!claim->has_value()) return std::nullopt;
  return absl::StatusOr<v1::TaskFile>((*claim)->task);
}

absl::Status WorkerClient::Complete(const v1::TaskFile& task, const std::string& output) {
  v1::ResultFile r;
  r.set_run(task.run());
  r.set_task(task.task());
  r.set_attempt(task.attempt());
  r.set_worker(worker_);
  r.set_ok(true);
  r.set_output(output);
  return mailbox_.Complete(r);
}

absl::Status WorkerClient::Fail(const v1::TaskFile& task, const std::string& why) {
  v1::ResultFile r;
  r.set_run(task.run());
  r.set_task(task.task());
  r.set_attempt(task.attempt());
  r.set_worker(worker_);
  r.set_ok(false);
  r.set_error(why);
  return mailbox_.Complete(r);
}

absl::Status WorkerClient::Heartbeat(const v1::TaskFile& task) {
  return mailbox_.Heartbeat(worker_, RecordName(task.run(), task.task(), task.attempt()));
}

}  // namespace fleet::bus
