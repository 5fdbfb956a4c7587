#include "core/daemon/plugins.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/health/policy.h"
#include "core/os/files.h"
#include "core/plugin_host/plugin.h"

namespace fleet::daemon {
namespace {

namespace v1 = ::fleet::config::v1;

constexpr char kBuiltinHealthFile[] = "libfleet_health_builtin.so";

std::string ExeDir() {
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return ".";
  return os::DirName(std::string(self, static_cast<size_t>(n)));
}

// The file itself if it holds a '/', else the first match in the search path.
std::string Find(const std::string& file, const std::vector<std::string>& dirs) {
  if (file.find('/') != std::string::npos) return file;
  for (const std::string& dir : dirs) {
    std::string path = os::JoinPath(dir, file);
    if (::access(path.c_str(), F_OK) == 0) return path;
  }
  return "";
}

void Load(const std::string& file, const std::string& config,
          const std::vector<std::string>& dirs, supervisor::EventLog* events,
          health::HealthMonitor* monitor) {
  std::string path = Find(file, dirs);
  if (path.empty()) {
    events->Add("fleetd", "plugin_failed",
                absl::StrCat("health plugin ", file, " not found in ", absl::StrJoin(dirs, ":")));
    return;
  }
  auto plugin = plugin_host::Plugin::Load(path, "health");
  if (!plugin.ok()) {
    events->Add("fleetd", "plugin_failed", std::string(plugin.status().message()));
    return;
  }
  auto instance = (*plugin)->Create(config);
  if (!instance.ok()) {
    events->Add("fleetd", "plugin_failed", std::string(instance.status().message()));
    return;
  }
  events->Add("fleetd", "plugin_loaded",
              absl::StrCat((*plugin)->name(), " ", (*plugin)->version(), " from ", path));
  monitor->AddPlugin(*std::move(plugin), *std::move(instance));
}

}  // namespace

std::vector<std::string> PluginSearchPath(const v1::FleetConfig& config, const std::string& kind) {
  std::vector<std::string> dirs(config.plugin_dirs().begin(), config.plugin_dirs().end());
  const std::string exe_dir = ExeDir();
  dirs.push_back(absl::StrCat(exe_dir, "/../plugins/", kind));
  dirs.push_back(absl::StrCat(exe_dir, "/../lib/fleet/plugins"));
  return dirs;
}

void LoadHealthPlugins(const v1::FleetConfig& config, supervisor::EventLog* events,
                       health::HealthMonitor* monitor) {
  const std::vector<std::string> dirs = PluginSearchPath(config, "health");
  bool builtin_named = false;
  for (const v1::Plugin& p : config.plugins()) {
    if (p.kind() != "health") continue;
    if (p.isolation() == v1::ISOLATION_PROCESS) {
      events->Add("fleetd", "plugin_failed",
                  absl::StrCat("health plugin ", p.file(),
                               ": isolation: process is not available in this fleetd yet; "
                               "use in-process or leave it out"));
      continue;
    }
    builtin_named = builtin_named || p.file() == kBuiltinHealthFile;
    Load(p.file(), p.config().SerializeAsString(), dirs, events, monitor);
  }
  bool needed = false;
  for (const v1::Engine& e : config.engines()) {
    health::HealthPolicy policy = health::HealthPolicyFor(e);
    needed = needed || (policy.enabled && policy.check == health::kBuiltinCheck);
  }
  if (needed && !builtin_named) Load(kBuiltinHealthFile, "", dirs, events, monitor);
}

}  // namespace fleet::daemon
