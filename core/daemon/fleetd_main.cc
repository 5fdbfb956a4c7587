#include "core/daemon/fleetd_main.h"

#include <stdio.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "core/daemon/daemon.h"
#include "core/daemon/export_command.h"
#include "core/daemon/kill_watch_command.h"
#include "core/daemon/pipe_keeper.h"
#include "core/daemon/sync_state_command.h"
#include "core/defaults/defaults.h"

namespace fleet::daemon {
namespace {

constexpr char kUsage[] = R"(usage: fleetd [--config PATH] [--run-dir DIR]
       fleetd validate PATH
       fleetd export systemd PATH [-o DIR|-] [--approximate] [--force]
       fleetd export kubernetes PATH --image IMAGE [--namespace NS] [-o DIR|-]
       fleetd export nomad PATH [-o DIR|-]
       fleetd sync-state pull|publish|watch --dir DIR --remote URL ...
                                  one work tree's Git sync, without a fleetd
       fleetd kill-watch --condition EXPR [--metrics PATH] [--marker PATH] -- COMMAND...
                                  one worker under its kill condition, without a fleetd
       fleetd run-dir PATH [--run-dir DIR]   print the run directory PATH's fleet uses
       fleetd pipe-keeper RUN_DIR   (started by fleetd itself)
       fleetd --version

Runs the fleet described by PATH (a YAML file, or a directory of
one-engine-per-file YAMLs) in the foreground until SIGTERM, `fleetctl
shutdown` or the run directory's stop flag. SIGHUP reloads the config.

  --config PATH   default: $FLEET_CONFIG, else ./fleet.yaml
  --run-dir DIR   overrides the config's run_dir (relative: to the current
                  directory, made absolute at start)

Exit codes: 0 clean shutdown, 1 runtime failure, 2 usage or missing config,
3 another fleetd runs on the run directory, 78 invalid config.
)";

}  // namespace

int FleetdMain(int argc, char** argv) {
  DaemonOptions options;
  options.config_path = defaults::ConfigPath();
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* flag) -> const char* {
      if (i + 1 >= argc) {
        fprintf(stderr, "fleetd: %s needs a value\n%s", flag, kUsage);
        exit(kExitUsage);
      }
      return argv[++i];
    };
    if (arg == "pipe-keeper") {
      if (i + 2 != argc) {
        fprintf(stderr, "fleetd: pipe-keeper takes one RUN_DIR\n%s", kUsage);
        return kExitUsage;
      }
      return RunPipeKeeper(argv[i + 1]);
    }
    if (arg == "run-dir") {
      if (i + 2 == argc) return PrintRunDir(argv[i + 1], "");
      if (i + 4 == argc && std::string(argv[i + 2]) == "--run-dir") {
        return PrintRunDir(argv[i + 1], argv[i + 3]);
      }
      fprintf(stderr, "fleetd: run-dir takes PATH [--run-dir DIR]\n%s", kUsage);
      return kExitUsage;
    }
    if (arg == "export") {
      return ExportCommand(std::vector<std::string>(argv + i + 1, argv + argc));
    }
    if (arg == "kill-watch") {
      return KillWatchCommand(std::vector<std::string>(argv + i + 1, argv + argc));
    }
    if (arg == "sync-state") {
      return SyncStateCommand(std::vector<std::string>(argv + i + 1, argv + argc));
    }
    if (arg == "validate") {
      if (i + 2 != argc) {
        fprintf(stderr, "fleetd: validate takes one PATH\n%s", kUsage);
        return kExitUsage;
      }
      return ValidateConfig(argv[i + 1]);
    } else if (arg == "--config" || arg == "-c") {
      options.config_path = value("--config");
    } else if (arg == "--run-dir") {
      options.run_dir = value("--run-dir");
    } else if (arg == "--version") {
      printf("fleetd %s\n", defaults::kVersion);
      return 0;
    } else if (arg == "--help" || arg == "-h") {
      printf("%s", kUsage);
      return 0;
    } else {
      fprintf(stderr, "fleetd: unknown argument '%s'\n%s", arg.c_str(), kUsage);
      return kExitUsage;
    }
  }
  return RunDaemon(options);
}

}  // namespace fleet::daemon
