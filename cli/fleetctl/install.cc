#include "cli/fleetctl/install.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "core/os/files.h"

namespace fleet::cli {
namespace {

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;

int Say(int code, const std::string& message) {
  fprintf(stderr, "fleetctl: %s\n", message.c_str());
  return code;
}

}  // namespace

std::string SystemdUnit(const std::string& fleetd_path, const std::string& config_path) {
  return absl::StrCat(
      "# Written by `fleetctl install systemd`.\n"
      "[Unit]\n"
      "Description=fleet supervisor (",
      config_path,
      ")\n"
      "After=network-online.target\n"
      "Wants=network-online.target\n"
      "\n"
      "[Service]\n"
      "# fleetd says READY=1 once its fleet is applied and its socket serves.\n"
      "Type=notify\n"
      "NotifyAccess=main\n"
      "ExecStart=",
      fleetd_path, " --config ", config_path,
      "\n"
      "ExecReload=/bin/kill -HUP $MAINPID\n"
      "# fleetd pings from its supervision loop: a wedged loop is restarted.\n"
      "WatchdogSec=30s\n"
      "Restart=always\n"
      "RestartSec=2s\n"
      "# fleetd stops the fleet itself (stop signals, grace, reverse dependency\n"
      "# order). systemd signals fleetd alone, so when fleetd dies and is\n"
      "# restarted, the workload keeps running and the new fleetd adopts it.\n"
      "KillMode=process\n"
      "# fleetd gives each instance its own cgroup below its own, so a daemon an\n"
      "# instance forks (even with setsid) is stopped with it.\n"
      "Delegate=yes\n"
      "TimeoutStopSec=120s\n"
      "LimitNOFILE=65536\n"
      "\n"
      "[Install]\n"
      "WantedBy=",
      ::geteuid() == 0 ? "multi-user.target" : "default.target", "\n");
}

int InstallSystemd(const SystemdInstall& request, const std::string& fleetd_path) {
  const std::string& config = request.config;
  const std::string& name = request.name;
  std::string unit_dir = request.unit_dir;
  if (name.empty() || name.find('/') != std::string::npos) {
    return Say(kUsage, "--name needs a unit name without '/'");
  }
  if (config.empty()) return Say(kUsage, "install systemd needs --config PATH (the fleet file)");
  char resolved[PATH_MAX];
  if (::realpath(config.c_str(), resolved) == nullptr) {
    return Say(kUsage, absl::StrCat("config ", config, " does not exist"));
  }
  const std::string unit = SystemdUnit(fleetd_path, resolved);
  if (request.print) {
    fputs(unit.c_str(), stdout);
    return kOk;
  }
  const bool root = ::geteuid() == 0;
  if (unit_dir.empty()) {
    const char* home = getenv("HOME");
    if (!root && home == nullptr) return Say(kUsage, "HOME is not set: give --unit-dir");
    unit_dir = root ? "/etc/systemd/system" : absl::StrCat(home, "/.config/systemd/user");
  }
  const std::string path = absl::StrCat(unit_dir, "/", name, ".service");
  absl::StatusOr<std::string> existing = os::ReadFile(path);
  if (existing.ok() && *existing != unit && !request.force) {
    return Say(kFailed, absl::StrCat(path,
                                     " exists and differs; nothing was changed (--force "
                                     "replaces it, --print shows the new one)"));
  }
  if (absl::Status made = os::MakeDirs(unit_dir); !made.ok()) {
    return Say(kFailed, std::string(made.message()));
  }
  if (absl::Status written = os::WriteFileAtomic(path, unit); !written.ok()) {
    return Say(kFailed, std::string(written.message()));
  }
  const std::string ctl = root ? "systemctl" : "systemctl --user";
  printf("wrote %s\nnext: %s daemon-reload && %s enable --now %s\n", path.c_str(), ctl.c_str(),
         ctl.c_str(), name.c_str());
  return kOk;
}

}  // namespace fleet::cli
