// A plugin in a helper process (`isolation: process`): the same bytes as the
// C ABI, over pipes. A call that overruns its timeout kills the helper
// (through a pidfd); a helper that crashed or was killed is started again on
// the next call. fleetd and the workload carry on either way.
#ifndef FLEET_CORE_PLUGIN_HOST_PROCESS_PLUGIN_H_
#define FLEET_CORE_PLUGIN_HOST_PROCESS_PLUGIN_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/plugin_host/caller.h"

namespace fleet::plugin_host {

// Loads plugin_path in a throwaway helper (helper_path --probe) before fleetd
// maps it: a library whose constructors or fleet_plugin_v1() crash or hang
// costs that helper, not fleetd. OK, the loader's refusal, or why the helper
// died ("killed by SIGABRT") or was killed (no answer within timeout).
absl::Status ProbeLoad(const std::string& helper_path, const std::string& plugin_path,
                       const std::string& kind, absl::Duration timeout);

// Call() from one thread at a time.
class ProcessPlugin : public PluginCaller {
 public:
  // Starts helper_path (fleet-plugin-host) on plugin_path and hands it config.
  // Errors are the helper's refusal (the loader's checks) or its failure to start.
  static absl::StatusOr<std::unique_ptr<ProcessPlugin>> Start(std::string helper_path,
                                                              std::string plugin_path,
                                                              std::string kind,
                                                              std::string config);
  ~ProcessPlugin() override;

  absl::StatusOr<std::string> Call(uint32_t method, const std::string& request,
                                   absl::Duration timeout) override;

  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }

 private:
  ProcessPlugin(std::string helper, std::string plugin, std::string kind, std::string config)
      : helper_(std::move(helper)),
        plugin_(std::move(plugin)),
        kind_(std::move(kind)),
        config_(std::move(config)) {}
  absl::Status Spawn();
  void Kill();

  std::string helper_, plugin_, kind_, config_;
  std::string name_, version_;
  pid_t pid_ = 0;
  int pidfd_ = -1;
  int to_ = -1;
  int from_ = -1;
};

}  // namespace fleet::plugin_host

#endif  // FLEET_CORE_PLUGIN_HOST_PROCESS_PLUGIN_H_
