#include "core/daemon/plugins.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/health/policy.h"
#include "core/os/files.h"
#include "core/plugin_host/plugin.h"
#include "core/plugin_host/process_plugin.h"
#include "google/protobuf/util/json_util.h"

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

fleet::control::v1::PluginInfo Load(const v1::Plugin& declared,
                                    const std::vector<std::string>& dirs,
                                    supervisor::EventLog* events, health::HealthMonitor* monitor) {
  const bool isolated = declared.isolation() == v1::ISOLATION_PROCESS;
  fleet::control::v1::PluginInfo info;
  info.set_file(declared.file());
  info.set_kind("health");
  info.set_isolation(isolated ? "process" : "in-process");
  auto refuse = [&](const std::string& why) {
    info.set_error(why);
    events->Add("fleetd", "plugin_failed", why);
    return info;
  };
  std::string path = Find(declared.file(), dirs);
  if (path.empty()) {
    return refuse(absl::StrCat("health plugin ", declared.file(), " not found in ",
                               absl::StrJoin(dirs, ":")));
  }
  info.set_path(path);
  std::string config;
  if (declared.config().fields_size() > 0) {
    (void)google::protobuf::util::MessageToJsonString(declared.config(), &config);
  }
  if (isolated) {
    auto plugin = plugin_host::ProcessPlugin::Start(ExeDir() + "/fleet-plugin-host", path,
                                                    "health", config);
    if (!plugin.ok()) return refuse(std::string(plugin.status().message()));
    info.set_name((*plugin)->name());
    info.set_version((*plugin)->version());
    events->Add("fleetd", "plugin_loaded",
                absl::StrCat(info.name(), " ", info.version(), " from ", path,
                             " in a helper process"));
    monitor->AddCheck(info.name(), *std::move(plugin));
    return info;
  }
  auto plugin = plugin_host::Plugin::Load(path, "health");
  if (!plugin.ok()) return refuse(std::string(plugin.status().message()));
  info.set_name((*plugin)->name());
  info.set_version((*plugin)->version());
  auto instance = (*plugin)->Create(config);
  if (!instance.ok()) return refuse(std::string(instance.status().message()));
  events->Add("fleetd", "plugin_loaded",
              absl::StrCat(info.name(), " ", info.version(), " from ", path));
  monitor->AddCheck(info.name(), *std::move(instance), *std::move(plugin));
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
    report.push_back(Load(p, dirs, events, monitor));
  }
  bool needed = false;
  for (const v1::Engine& e : config.engines()) {
    health::HealthPolicy policy = health::HealthPolicyFor(e);
    needed = needed || (policy.enabled && policy.check == health::kBuiltinCheck);
  }
  if (needed && !builtin_named) {
    v1::Plugin builtin;
    builtin.set_file(kBuiltinHealthFile);
    report.push_back(Load(builtin, dirs, events, monitor));
  }
  return report;
}

}  // namespace fleet::daemon
