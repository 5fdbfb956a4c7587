// Loading plugins through the C ABI (plugins/sdk/fleet_plugin.h) and calling
// them with serialized protobuf bytes. The loader refuses, with the file and
// the reason: a group/world-writable file or one owned by another user, a
// missing entry symbol, a wrong ABI version or struct size, missing
// functions, a wrong kind.
#ifndef FLEET_CORE_PLUGIN_HOST_PLUGIN_H_
#define FLEET_CORE_PLUGIN_HOST_PLUGIN_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/plugin_host/caller.h"
#include "plugins/sdk/fleet_plugin.h"

namespace fleet::plugin_host {

class PluginInstance;

// A loaded shared object. Never dlclose'd once an instance was made (a
// reload means a restart). Thread-compatible.
class Plugin {
 public:
  // expected_kind: "health", "sync" or "recovery". Errors name path:
  // kPermissionDenied (writable by others, foreign owner), kNotFound (no file),
  // kFailedPrecondition (not a loadable fleet plugin, wrong ABI, wrong kind,
  // missing functions).
  static absl::StatusOr<std::unique_ptr<Plugin>> Load(const std::string& path,
                                                      const std::string& expected_kind);
  ~Plugin();

  // Makes an instance; config is a JSON object's text (may be empty).
  // Supervisor thread. Errors carry the plugin's code and message.
  absl::StatusOr<std::unique_ptr<PluginInstance>> Create(const std::string& config);

  const std::string& path() const { return path_; }
  const std::string& name() const { return name_; }
  const std::string& kind() const { return kind_; }
  const std::string& version() const { return version_; }

 private:
  Plugin() = default;
  std::string path_, name_, kind_, version_;
  void* handle_ = nullptr;
  // The sealed private copy dlopen mapped. Open for as long as the handle:
  // the loader knows a library by its path (/proc/self/fd/N), and a reused
  // fd number would hand back another plugin.
  int copy_fd_ = -1;
  fleet_plugin_api_v1 api_{};
  bool used_ = false;
};

// One plugin instance in fleetd's process. Call() from one thread at a time
// (a worker, never the supervision loop). An in-process call cannot be
// interrupted: `timeout` is not enforced here (use isolation: process).
class PluginInstance : public PluginCaller {
 public:
  ~PluginInstance() override;
  // Runs method on request bytes; the response bytes, or the plugin's error
  // (kInternal for a code outside google.rpc.Code).
  absl::StatusOr<std::string> Call(uint32_t method, const std::string& request,
                                   absl::Duration timeout = absl::InfiniteDuration()) override;
  const std::string& plugin_name() const { return name_; }

 private:
  friend class Plugin;
  PluginInstance() = default;
  std::string name_;
  fleet_plugin_api_v1 api_{};
  void* instance_ = nullptr;
  std::unique_ptr<fleet_host_v1> host_;
};

}  // namespace fleet::plugin_host

#endif  // FLEET_CORE_PLUGIN_HOST_PLUGIN_H_
