// fleetctl: `bus submit|status|cancel|retry` and `runs`: the work-bus and scheduled runs, through
// fleetd.
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include <string>

#include "absl/time/clock.h"
#include "cli/fleetctl/commands.h"
#include "cli/fleetctl/commands_internal.h"
#include "cli/fleetctl/render.h"
#include "core/os/files.h"

namespace fleet::cli {

namespace ctl = ::fleet::control::v1;

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

}  // namespace fleet::cli
