// fleetctl: `bus submit|status|cancel|retry` and `runs`: the work-bus and scheduled runs, through
// fleetd.
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/fleetctl/commands.h"
#include "cli/fleetctl/commands_internal.h"
#include "cli/fleetctl/render.h"
#include "core/os/files.h"

namespace fleet::cli {

namespace ctl = ::fleet::control::v1;

namespace {

// A DAG read from stdin larger than this is refused (a file is read whole).
constexpr size_t kMaxDagBytes = 16 << 20;

absl::StatusOr<std::string> ReadStdin() {
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "read stdin");
    if (n == 0) return text;
    if (text.size() + static_cast<size_t>(n) > kMaxDagBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("stdin: a DAG is at most ", kMaxDagBytes >> 20, " MiB"));
    }
    text.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

int Commands::BusSubmit(const std::string& path, const std::string& run) {
  // '-': the DAG from stdin (`kubectl exec -i ... bus submit - < goal.yaml`);
  // its input files are then looked up in fleetd's directory.
  const bool from_stdin = path == "-";
  absl::StatusOr<std::string> text = from_stdin ? ReadStdin() : os::ReadFile(path);
  if (!text.ok()) return Fail(kUsage, std::string(text.status().message()));
  ctl::BusSubmitRequest request;
  request.set_dag_text(*text);
  char resolved[PATH_MAX];
  request.set_dag_path(from_stdin                                      ? "stdin"
                       : ::realpath(path.c_str(), resolved) != nullptr ? resolved
                                                                       : path);
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

}  // namespace fleet::cli
