// fleetctl: `status`, `health`, `brief`, `top`, `plugins`, `metrics`, `version`: what the
// fleet is doing.
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/fleetctl/client.h"
#include "cli/fleetctl/commands.h"
#include "cli/fleetctl/commands_internal.h"
#include "cli/fleetctl/render.h"
#include "cli/fleetctl/terminal.h"
#include "core/defaults/defaults.h"
#include "grpcpp/grpcpp.h"

namespace fleet::cli {

namespace ctl = ::fleet::control::v1;

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
    std::string frame =
        RenderTop(status, size.ws_row, size.ws_col, absl::ToUnixMillis(absl::Now()));
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

int Commands::Metrics(bool openmetrics) {
  ctl::GetMetricsRequest request;
  request.set_openmetrics(openmetrics);
  ctl::GetMetricsResponse response;
  if (int code = Unary(&ctl::FleetControl::Stub::GetMetrics, request, &response); code != kOk) {
    return code;
  }
  fputs(response.text().c_str(), stdout);
  return kOk;
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
