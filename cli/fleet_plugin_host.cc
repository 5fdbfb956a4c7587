// fleet-plugin-host: runs one plugin in its own process for fleetd
// (`isolation: process`). It speaks the C ABI's bytes as frames
// (core/plugin_host/framing.h): fleetd writes the create() config, then one
// frame per call; this process answers each. A crash or hang here costs only
// this process: fleetd kills and restarts it.
//
// usage: fleet-plugin-host PLUGIN_PATH KIND   (stdin/stdout: frames, from fleetd)
#include <stdio.h>
#include <unistd.h>

#include <string>

#include "absl/time/time.h"
#include "core/log/log.h"
#include "core/plugin_host/framing.h"
#include "core/plugin_host/plugin.h"

namespace {

using fleet::plugin_host::Frame;

int Refuse(int out, const absl::Status& status) {
  (void)fleet::plugin_host::WriteFrame(
      out, {static_cast<uint32_t>(status.code()), std::string(status.message())});
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: fleet-plugin-host PLUGIN_PATH KIND (run by fleetd)\n");
    return 2;
  }
  fleet::log::SetProgramName("fleet-plugin-host");
  // Frames go out on a private descriptor; whatever the plugin prints to
  // stdout lands in fleetd's log instead of corrupting them.
  const int out = dup(STDOUT_FILENO);
  dup2(STDERR_FILENO, STDOUT_FILENO);
  const int in = STDIN_FILENO;

  auto plugin = fleet::plugin_host::Plugin::Load(argv[1], argv[2]);
  if (!plugin.ok()) return Refuse(out, plugin.status());
  auto create = fleet::plugin_host::ReadFrame(in, absl::InfiniteDuration());
  if (!create.ok() || create->tag != fleet::plugin_host::kCreateTag) {
    return Refuse(out, absl::InvalidArgumentError("expected the create frame first"));
  }
  auto instance = (*plugin)->Create(create->bytes);
  if (!instance.ok()) return Refuse(out, instance.status());
  if (!fleet::plugin_host::WriteFrame(out, {0, (*plugin)->name() + "\n" + (*plugin)->version()})
           .ok()) {
    return 1;
  }
  for (;;) {
    auto request = fleet::plugin_host::ReadFrame(in, absl::InfiniteDuration());
    if (!request.ok()) return 0;  // fleetd closed the pipe: done.
    auto response = (*instance)->Call(request->tag, request->bytes);
    Frame answer = response.ok() ? Frame{0, *std::move(response)}
                                 : Frame{static_cast<uint32_t>(response.status().code()),
                                         std::string(response.status().message())};
    if (!fleet::plugin_host::WriteFrame(out, answer).ok()) return 0;
  }
}
