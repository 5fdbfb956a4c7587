// fleetctl: `bus submit|status|cancel|retry` and `runs`: the work-bus and scheduled runs, through fleetd.
#include "cli/fleetctl/commands.h"
#include "cli/fleetctl/commands_internal.h"

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
