#include "core/daemon/plugins.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "core/health/policy.h"
#include "core/os/files.h"
#include "core/os/process.h"
#include "core/plugin_host/plugin.h"
#include "core/plugin_host/process_plugin.h"
#include "google/protobuf/util/json_util.h"

namespace fleet::daemon {
namespace {

namespace v1 = ::fleet::config::v1;

constexpr char kBuiltinHealthFile[] = "libfleet_health_builtin.so";
constexpr absl::Duration kTrialLoadTimeout = absl::Seconds(10);

std::string ExeDir() {
  const std::string self = os::SelfExecutable();
  return self.empty() ? "." : os::DirName(self);
}

// The helper that runs isolated plugins: beside fleetd (a build tree), or
// in an installed tree's lib/fleet/ (libexec style).
std::string PluginHostPath() {
  const std::string exe_dir = ExeDir();
  const std::string installed = exe_dir + "/../lib/fleet/fleet-plugin-host";
  if (::access((exe_dir + "/fleet-plugin-host").c_str(), X_OK) != 0 &&
      ::access(installed.c_str(), X_OK) == 0) {
    return installed;
  }
  return exe_dir + "/fleet-plugin-host";
}

// Installed with fleetd itself (its plugins/ and lib/fleet/plugins dirs).
bool Bundled(const std::string& path) {
  char exe[PATH_MAX], file[PATH_MAX];
  if (::realpath(ExeDir().c_str(), exe) == nullptr || ::realpath(path.c_str(), file) == nullptr) {
    return false;
  }
  const std::string parent = os::DirName(exe);
  for (const std::string& dir : {parent + "/plugins/", parent + "/lib/fleet/plugins/"}) {
    if (absl::StartsWith(file, dir)) return true;
  }
  return false;
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

// A plugin loaded `copies` times (instances that may be called at once),
// or why not (info.error set, nothing else).
struct Loaded {
  fleet::control::v1::PluginInfo info;
  std::vector<std::unique_ptr<plugin_host::PluginCaller>> callers;
  std::unique_ptr<plugin_host::Plugin> library;  // null for isolated ones
};

Loaded Load(const v1::Plugin& declared, const std::string& kind, int copies,
            const std::vector<std::string>& dirs, supervisor::EventLog* events,
            plugin_host::CallStats* stats) {
  const bool isolated = declared.isolation() == v1::ISOLATION_PROCESS;
  Loaded out;
  fleet::control::v1::PluginInfo& info = out.info;
  info.set_file(declared.file());
  info.set_kind(kind);
  info.set_isolation(isolated ? "process" : "in-process");
  auto refuse = [&](const std::string& why) {
    info.set_error(why);
    events->Add("fleetd", "plugin_failed", why);
    out.callers.clear();
    out.library.reset();
    return std::move(out);
  };
  // Every call counted (fleet_plugin_calls_total), under the plugin's name.
  auto counted = [&]() {
    plugin_host::CallStats::Counts* counts = stats->For(kind, info.name());
    for (auto& caller : out.callers) caller = plugin_host::Counted(std::move(caller), counts);
    return std::move(out);
  };
  std::string path = Find(declared.file(), dirs);
  if (path.empty()) {
    return refuse(absl::StrCat(kind, " plugin ", declared.file(), " not found in ",
                               absl::StrJoin(dirs, ":")));
  }
  info.set_path(path);
  std::string config;
  if (declared.config().fields_size() > 0) {
    (void)google::protobuf::util::MessageToJsonString(declared.config(), &config);
  }
  if (isolated) {
    for (int i = 0; i < copies; ++i) {
      auto plugin = plugin_host::ProcessPlugin::Start(PluginHostPath(), path, kind, config);
      if (!plugin.ok()) return refuse(std::string(plugin.status().message()));
      info.set_name((*plugin)->name());
      info.set_version((*plugin)->version());
      out.callers.push_back(*std::move(plugin));
    }
    events->Add(
        "fleetd", "plugin_loaded",
        absl::StrCat(info.name(), " ", info.version(), " from ", path, " in ",
                     copies == 1 ? "a helper process" : absl::StrCat(copies, " helper processes")));
    return counted();
  }
  // fleet's own plugins are part of fleetd; anyone else's is first mapped
  // in a throwaway helper, so a constructor that aborts or hangs is refused
  // instead of taking fleetd down before the ABI check could say no.
  if (!Bundled(path)) {
    absl::Status trial = plugin_host::ProbeLoad(PluginHostPath(), path, kind, kTrialLoadTimeout);
    if (!trial.ok()) return refuse(std::string(trial.message()));
  }
  auto plugin = plugin_host::Plugin::Load(path, kind);
  if (!plugin.ok()) return refuse(std::string(plugin.status().message()));
  info.set_name((*plugin)->name());
  info.set_version((*plugin)->version());
  for (int i = 0; i < copies; ++i) {
    auto instance = (*plugin)->Create(config);
    if (!instance.ok()) return refuse(std::string(instance.status().message()));
    out.callers.push_back(*std::move(instance));
  }
  out.library = *std::move(plugin);
  events->Add("fleetd", "plugin_loaded",
              absl::StrCat(info.name(), " ", info.version(), " from ", path));
  return counted();
}

fleet::control::v1::PluginInfo AddCheck(Loaded loaded, health::HealthMonitor* monitor) {
  if (!loaded.callers.empty()) {
    monitor->AddCheck(loaded.info.name(), std::move(loaded.callers[0]), std::move(loaded.library));
  }
  return loaded.info;
}

}  // namespace

std::vector<std::string> PluginSearchPath(const v1::FleetConfig& config, const std::string& kind) {
  std::vector<std::string> dirs(config.plugin_dirs().begin(), config.plugin_dirs().end());
  const std::string exe_dir = ExeDir();
  // Relative to fleetd itself, so a tree moved anywhere still finds them:
  // a build (bazel-bin/cli/fleetd -> bazel-bin/plugins/KIND) and an
  // installed tree (PREFIX/bin/fleetd -> PREFIX/lib/fleet/plugins/KIND).
  dirs.push_back(absl::StrCat(exe_dir, "/../plugins/", kind));
  dirs.push_back(absl::StrCat(exe_dir, "/../lib/fleet/plugins/", kind));
  dirs.push_back(absl::StrCat(exe_dir, "/../lib/fleet/plugins"));
  return dirs;
}

std::vector<fleet::control::v1::PluginInfo> LoadHealthPlugins(const v1::FleetConfig& config,
                                                              supervisor::EventLog* events,
                                                              plugin_host::CallStats* stats,
                                                              health::HealthMonitor* monitor) {
  std::vector<fleet::control::v1::PluginInfo> report;
  const std::vector<std::string> dirs = PluginSearchPath(config, "health");
  bool builtin_named = false;
  for (const v1::Plugin& p : config.plugins()) {
    if (p.kind() != "health") continue;
    builtin_named = builtin_named || p.file() == kBuiltinHealthFile;
    report.push_back(AddCheck(Load(p, "health", 1, dirs, events, stats), monitor));
  }
  bool needed = false;
  for (const v1::Engine& e : config.engines()) {
    health::HealthPolicy policy = health::HealthPolicyFor(e);
    needed = needed || (policy.enabled && policy.check == health::kBuiltinCheck);
  }
  if (needed && !builtin_named) {
    v1::Plugin builtin;
    builtin.set_file(kBuiltinHealthFile);
    report.push_back(AddCheck(Load(builtin, "health", 1, dirs, events, stats), monitor));
  }
  return report;
}

fleet::control::v1::PluginInfo LoadSyncPlugin(const v1::FleetConfig& config,
                                              supervisor::EventLog* events,
                                              plugin_host::CallStats* stats, int lanes,
                                              std::function<void(sync::SyncOutcome)> on_outcome,
                                              std::unique_ptr<sync::StateSync>* out,
                                              sync::Validator validator) {
  // A `plugins:` entry of kind sync for the same file gives its isolation
  // and config; otherwise it is loaded in-process with none.
  v1::Plugin declared;
  declared.set_file(config.state().plugin());
  for (const v1::Plugin& p : config.plugins()) {
    if (p.kind() == "sync" && p.file() == config.state().plugin()) declared = p;
  }
  Loaded loaded =
      Load(declared, "sync", std::max(1, lanes), PluginSearchPath(config, "sync"), events, stats);
  if (!loaded.callers.empty()) {
    *out = std::make_unique<sync::StateSync>(std::move(loaded.callers), std::move(loaded.library),
                                             std::move(on_outcome), std::move(validator));
  }
  return loaded.info;
}

fleet::control::v1::PluginInfo LoadRecoveryPlugin(
    const v1::FleetConfig& config, supervisor::EventLog* events, plugin_host::CallStats* stats,
    int validators, std::function<void(recovery::RecoveryOutcome)> on_outcome,
    std::unique_ptr<recovery::RecoveryWorker>* out) {
  const std::string file = config.recovery().plugin().empty() ? "libfleet_recovery_files.so"
                                                              : config.recovery().plugin();
  v1::Plugin declared;
  declared.set_file(file);
  for (const v1::Plugin& p : config.plugins()) {
    if (p.kind() == "recovery" && p.file() == file) declared = p;
  }
  Loaded loaded = Load(declared, "recovery", 1 + validators, PluginSearchPath(config, "recovery"),
                       events, stats);
  if (!loaded.callers.empty()) {
    *out = std::make_unique<recovery::RecoveryWorker>(
        std::move(loaded.callers), std::move(loaded.library), std::move(on_outcome));
  }
  return loaded.info;
}

}  // namespace fleet::daemon
