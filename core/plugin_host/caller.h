// What the host needs of a plugin instance, wherever it runs: in fleetd
// (PluginInstance) or in a helper process (ProcessPlugin).
#ifndef FLEET_CORE_PLUGIN_HOST_CALLER_H_
#define FLEET_CORE_PLUGIN_HOST_CALLER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace fleet::plugin_host {

// Call() from one thread at a time.
class PluginCaller {
 public:
  virtual ~PluginCaller() = default;
  // The response bytes, or the plugin's error. timeout: how long the caller
  // waits; only an isolated plugin can be stopped at it (kDeadlineExceeded).
  virtual absl::StatusOr<std::string> Call(uint32_t method, const std::string& request,
                                           absl::Duration timeout) = 0;
};

}  // namespace fleet::plugin_host

#endif  // FLEET_CORE_PLUGIN_HOST_CALLER_H_
