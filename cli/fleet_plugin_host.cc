// fleet-plugin-host: runs one plugin in its own process for fleetd
// (`isolation: process`). It speaks the C ABI's bytes as frames
// (core/plugin_host/framing.h): fleetd writes the create() config, then one
// frame per call; this process answers each. A crash or hang here costs only
// this process: fleetd kills and restarts it.
//
// usage: fleet-plugin-host PLUGIN_PATH KIND   (stdin/stdout: frames, from fleetd)
//        fleet-plugin-host --probe PLUGIN_PATH KIND
// --probe only loads the plugin and answers one frame (name and version, or
// the loader's refusal): fleetd's trial load of an in-process plugin, so a
// library that crashes as it is mapped crashes this process instead.
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
  const bool probe = argc == 4 && std::string(argv[1]) == "--probe";
  if (argc != 3 && !probe) {
    fprintf(stderr,
            "usage: fleet-plugin-host [--probe] PLUGIN_PATH KIND (run by fleetd)\n");
    return 2;
  }
  fleet::log::SetProgramName("fleet-plugin-host");
  // Frames go out on a private descriptor; whatever the plugin prints to
  // stdout lands in fleetd's log instead of corrupting them.
  const int out = dup(STDOUT_FILENO);
  dup2(STDERR_FILENO, STDOUT_FILENO);
  const int in = STDIN_FILENO;

  auto plugin = fleet::plugin_host::Plugin::Load(argv[argc - 2], argv[argc - 1]);
  if (!plugin.ok()) return Refuse(out, plugin.status());
  if (probe) {
    const bool sent =
        fleet::plugin_host::WriteFrame(out, {0, (*plugin)->name() + "\n" + (*plugin)->version()})
            .ok();
    // Not through exit(): the plugin's static destructors are not on trial.
    _exit(sent ? 0 : 1);
  }
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
