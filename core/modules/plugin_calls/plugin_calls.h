// Calls to plugins and their failures, by plugin, as series: the health
// checks, syncs and recovery passes fleet made through third-party code.
#ifndef FLEET_CORE_MODULES_PLUGIN_CALLS_PLUGIN_CALLS_H_
#define FLEET_CORE_MODULES_PLUGIN_CALLS_PLUGIN_CALLS_H_

#include "core/module/module.h"
#include "core/plugin_host/call_stats.h"

namespace fleet::modules {

class PluginCalls final : public module::Module {
 public:
  // stats outlives the module.
  explicit PluginCalls(const plugin_host::CallStats* stats) : stats_(stats) {}

  absl::string_view name() const override { return "plugin_calls"; }
  void FillMetrics(fleet::control::v1::GetStatusResponse* status) const override;

 private:
  const plugin_host::CallStats* stats_;
};

}  // namespace fleet::modules

#endif  // FLEET_CORE_MODULES_PLUGIN_CALLS_PLUGIN_CALLS_H_
