#include "core/daemon/plugins.h"

#include <limits.h>
#include <stdlib.h>
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
    char resolved[PATH_MAX];
    if (::realpath(path.c_str(), resolved) != nullptr) return resolved;
  }
  return "";
}

fleet::control::v1::PluginInfo Load(const std::string& file, const std::string& config,
                                    const std::vector<std::string>& dirs,
                                    supervisor::EventLog* events, health::HealthMonitor* monitor) {
  fleet::control::v1::PluginInfo info;
  info.set_file(file);
  info.set_kind("health");
  info.set_isolation("in-process");
  auto refuse = [&](const std::string& why) {
    info.set_error(why);
    events->Add("fleetd", "plugin_failed", why);
    return info;
  };
  std::string path = Find(file, dirs);
  if (path.empty()) {
    return refuse(absl::StrCat("health plugin ", file, " not found in ", absl::StrJoin(dirs, ":")));
  }
  info.set_path(path);
  auto plugin = plugin_host::Plugin::Load(path, "health");
  if (!plugin.ok()) return refuse(std::string(plugin.status().message()));
  info.set_name((*plugin)->name());
  info.set_version((*plugin)->version());
  auto instance = (*plugin)->Create(config);
  if (!instance.ok()) return refuse(std::string(instance.status().message()));
  events->Add("fleetd", "plugin_loaded",
              absl::StrCat((*plugin)->name(), " ", (*plugin)->version(), " from ", path));
  monitor->AddPlugin(*std::move(plugin), *std::move(instance));
  return info;
}

}  // namespace

std::vector<std::string> PluginSearchPath(const v1::FleetConfig& config, const std::string& kind) {
  std::vector<std::string> dirs(config.plugin_dirs().begin(), config.plugin_dirs().end());
  const std::string exe_dir = ExeDir();
  dirs.push_back(absl::StrCat(exe_dir, "/../plugins/", kind));
  dirs.push_back(absl::StrCat(exe_dir, "/../lib/fleet/plugins"));
  return dirs;
}

std::vector<fleet::control::v1::PluginInfo> LoadHealthPlugins(const v1::FleetConfig& config,
                                                             supervisor::EventLog* events,
                                                             health::HealthMonitor* monitor) {
  std::vector<fleet::control::v1::PluginInfo> report;
  const std::vector<std::string> dirs = PluginSearchPath(config, "health");
  bool builtin_named = false;
  for (const v1::Plugin& p : config.plugins()) {
    if (p.kind() != "health") continue;
    builtin_named = builtin_named || p.file() == kBuiltinHealthFile;
    if (p.isolation() == v1::ISOLATION_PROCESS) {
      fleet::control::v1::PluginInfo info;
      info.set_file(p.file());
      info.set_kind("health");
      info.set_isolation("process");
      info.set_error(absl::StrCat("health plugin ", p.file(),
                                  ": isolation: process is not available in this fleetd yet"));
      events->Add("fleetd", "plugin_failed", info.error());
      report.push_back(info);
      continue;
    }
    report.push_back(Load(p.file(), p.config().SerializeAsString(), dirs, events, monitor));
  }
  bool needed = false;
  for (const v1::Engine& e : config.engines()) {
    health::HealthPolicy policy = health::HealthPolicyFor(e);
    needed = needed || (policy.enabled && policy.check == health::kBuiltinCheck);
  }
  if (needed && !builtin_named) report.push_back(Load(kBuiltinHealthFile, "", dirs, events, monitor));
  return report;
}

}  // namespace fleet::daemon
