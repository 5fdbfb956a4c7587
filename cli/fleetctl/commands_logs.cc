// fleetctl: `logs` and `events`: what the instances wrote and what fleetd did.
#include <stdio.h>

#include <string>

#include "cli/fleetctl/commands.h"
#include "cli/fleetctl/commands_internal.h"
#include "cli/fleetctl/fleet_finder.h"
#include "cli/fleetctl/json_out.h"
#include "cli/fleetctl/render.h"
#include "grpcpp/grpcpp.h"

namespace fleet::cli {

namespace ctl = ::fleet::control::v1;

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
      for (const std::string& id : chunk.instances())
        prefix_width = std::max(prefix_width, id.size());
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

}  // namespace fleet::cli
