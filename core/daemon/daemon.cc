#include "core/daemon/daemon.h"

#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <memory>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/concurrency/mutex.h"
#include "core/config/loader.h"
#include "core/control/server.h"
#include "core/daemon/metrics_exporter.h"
#include "core/daemon/modules.h"
#include "core/daemon/pipe_keeper.h"
#include "core/daemon/plugins.h"
#include "core/daemon/run_dir.h"
#include "core/daemon/sd_notify.h"
#include "core/defaults/defaults.h"
#include "core/health/monitor.h"
#include "core/log/log.h"
#include "core/metrics/fleet_metrics.h"
#include "core/os/child_waiter.h"
#include "core/os/clock.h"
#include "core/os/files.h"
#include "core/os/process.h"
#include "core/supervisor/event_journal.h"
#include "core/supervisor/event_log.h"
#include "core/supervisor/supervisor.h"

namespace fleet::daemon {
namespace {

// Sync plugin instances working in parallel (one work tree stays on one).
constexpr int kSyncLanes = 2;
// At shutdown, how long the last commits and pushes may take.
constexpr absl::Duration kSyncDrain = absl::Seconds(30);
// RUN_DIR/events.jsonl rotates past 16 MiB, and 4 rotated files are kept.
constexpr uint64_t kJournalMaxSize = 16 << 20;
constexpr uint32_t kJournalMaxFiles = 4;

// $WATCHDOG_USEC when it is meant for this process ($WATCHDOG_PID unset or
// ours), else zero.
absl::Duration WatchdogPeriod() {
  const char* usec = getenv("WATCHDOG_USEC");
  const char* pid = getenv("WATCHDOG_PID");
  int64_t value = 0;
  if (usec == nullptr || !absl::SimpleAtoi(usec, &value) || value <= 0) return absl::ZeroDuration();
  int64_t owner = 0;
  if (pid != nullptr && absl::SimpleAtoi(pid, &owner) && owner != getpid()) {
    return absl::ZeroDuration();
  }
  return absl::Microseconds(value);
}

}  // namespace

int PrintRunDir(const std::string& path, const std::string& run_dir_flag) {
  absl::StatusOr<config::LoadedConfig> loaded = config::LoadConfig(path, run_dir_flag);
  if (!loaded.ok()) {
    fprintf(stderr, "%s\n", std::string(loaded.status().message()).c_str());
    return loaded.status().code() == absl::StatusCode::kNotFound ? kExitUsage : kExitBadConfig;
  }
  printf("%s\n", loaded->config.run_dir().c_str());
  return kExitOk;
}

int ValidateConfig(const std::string& path) {
  absl::StatusOr<config::LoadedConfig> loaded = config::LoadConfig(path);
  if (!loaded.ok()) {
    fprintf(stderr, "%s\n", std::string(loaded.status().message()).c_str());
    return loaded.status().code() == absl::StatusCode::kNotFound ? kExitUsage : kExitBadConfig;
  }
  for (const std::string& w : loaded->warnings) fprintf(stderr, "warning: %s\n", w.c_str());
  uint32_t instances = 0;
  for (const auto& e : loaded->config.engines()) instances += e.replicas();
  printf("%s: OK: fleet '%s', %d engines, %u instances, run dir %s\n", loaded->path.c_str(),
         loaded->config.name().c_str(), loaded->config.engines_size(), instances,
         loaded->config.run_dir().c_str());
  for (const auto& e : loaded->config.engines()) {
    printf("  %-24s %u x %s\n", e.name().c_str(), e.replicas(),
           e.shell().empty() ? absl::StrJoin(e.command(), " ").c_str() : e.shell().c_str());
  }
  return kExitOk;
}

int RunDaemon(const DaemonOptions& options) {
  // Before any thread: every thread inherits this mask, so the signals reach
  // only the loop's signalfd. Children get a clean mask from Spawn.
  sigset_t handled = supervisor::Supervisor::HandledSignals();
  pthread_sigmask(SIG_BLOCK, &handled, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Every instance holds a few descriptors (its output FIFOs, its log, an
  // adopted one's pidfd): a thousand instances need more than the usual
  // soft limit of 1024. Raised to the hard limit; children get the original.
  const os::FileLimit file_limit = os::RaiseFileLimit();
  // Orphaned grandchildren come to fleetd (and are reaped) instead of init.
  prctl(PR_SET_CHILD_SUBREAPER, 1);

  const std::string config_path = options.config_path;
  // --run-dir wins over the file at every reload (otherwise an edited
  // run_dir reaches the supervisor, which refuses it with the reason); a
  // relative one is made absolute here, once, for fleetd and every instance.
  const std::string run_dir_flag = options.run_dir.empty() ? "" : os::AbsolutePath(options.run_dir);
  auto load = [config_path, run_dir_flag]() {
    return config::LoadConfig(config_path, run_dir_flag);
  };
  absl::StatusOr<config::LoadedConfig> loaded = load();
  if (!loaded.ok()) {
    log::Error(absl::StrCat("cannot start: bad config:\n", loaded.status().message()));
    return loaded.status().code() == absl::StatusCode::kNotFound ? kExitUsage : kExitBadConfig;
  }
  const std::string run_dir = loaded->config.run_dir();
  for (const std::string& w : loaded->warnings) log::Warning(w);
  auto reload = load;

  absl::StatusOr<RunDirLock> lock = RunDirLock::Acquire(run_dir);
  if (!lock.ok()) {
    log::Error(std::string(lock.status().message()));
    return lock.status().code() == absl::StatusCode::kAlreadyExists ? kExitAlreadyRunning
                                                                    : kExitFailure;
  }
  absl::Status pid_written = lock->WritePidFile();
  if (!pid_written.ok()) {
    log::Error(std::string(pid_written.message()));
    return kExitFailure;
  }

  // Every event also as a JSON line in RUN_DIR/events.jsonl, written on the
  // journal's thread (declared first: it outlives the log that feeds it).
  supervisor::EventJournal journal(defaults::EventJournal(run_dir), kJournalMaxSize,
                                   kJournalMaxFiles);
  supervisor::EventLog events(os::RealClock());
  events.SetSink([&journal](const fleet::control::v1::Event& e) { journal.Append(e); });
  // Verdicts come back to the loop as posted closures; the monitor is stopped
  // before the supervisor goes away.
  supervisor::Supervisor* loop = nullptr;
  // The modules that take the workers' answers (set before the loop runs).
  ModuleRoutes routes;
  os::ChildWaiter children;
  // Outlives every plugin caller (they count into it).
  plugin_host::CallStats plugin_calls;
  auto monitor = std::make_unique<health::HealthMonitor>(
      [&loop, &routes](health::CheckOutcome outcome) {
        supervisor::Supervisor* s = loop;
        modules::HealthChecks* m = routes.health;
        if (s != nullptr && m != nullptr) {
          s->Post([m, outcome = std::move(outcome)] { m->OnOutcome(outcome); });
        }
      },
      &children);
  std::vector<fleet::control::v1::PluginInfo> plugins =
      LoadHealthPlugins(loaded->config, &events, &plugin_calls, monitor.get());
  // Recovery first: the sync lanes validate state through it.
  std::unique_ptr<recovery::RecoveryWorker> recovery;
  if (loaded->config.has_recovery() || loaded->config.has_state()) {
    plugins.push_back(LoadRecoveryPlugin(
        loaded->config, &events, &plugin_calls, kSyncLanes,
        [&loop, &routes](recovery::RecoveryOutcome outcome) {
          supervisor::Supervisor* s = loop;
          modules::RecoveryPasses* m = routes.recovery;
          if (s != nullptr && m != nullptr) {
            s->Post([m, outcome = std::move(outcome)] { m->OnOutcome(outcome); });
          }
        },
        &recovery));
  }
  // One voice for what recovery found, periodic passes and sync lanes alike.
  recovery::PlanReporter plan_reporter(
      [&events](const std::string& subject, const std::string& kind, const std::string& message) {
        events.Add(subject, kind, message);
      });
  std::unique_ptr<sync::StateSync> state_sync;
  if (loaded->config.has_state()) {
    sync::Validator validator;
    if (recovery != nullptr) {
      recovery::RecoveryWorker* r = recovery.get();
      validator = [r](size_t lane, const fleet::plugin::v1::RecoveryRequest& request) {
        return r->Validate(lane, request);
      };
    }
    plugins.push_back(LoadSyncPlugin(
        loaded->config, &events, &plugin_calls, kSyncLanes,
        [&loop, &routes](sync::SyncOutcome outcome) {
          supervisor::Supervisor* s = loop;
          modules::SharedState* m = routes.state;
          if (s != nullptr && m != nullptr) {
            s->Post([m, outcome = std::move(outcome)] { m->OnOutcome(outcome); });
          }
        },
        &state_sync, std::move(validator)));
  }
  supervisor::SupervisorOptions supervisor_options{run_dir, os::RealClock(), &events, reload,
                                                   &children};
  // systemd's watchdog (WatchdogSec=): ping from the loop at half the period.
  if (absl::Duration period = WatchdogPeriod(); period > absl::ZeroDuration()) {
    supervisor_options.watchdog_interval = period / 2;
    supervisor_options.watchdog_ping = [] { SdNotify("WATCHDOG=1"); };
  }
  // FLEET_CGROUPS=off: no cgroup per instance even where they are writable
  // (say, under a systemd unit without Delegate=yes).
  if (const char* cg = getenv("FLEET_CGROUPS"); cg != nullptr && std::string(cg) == "off") {
    supervisor_options.use_cgroups = false;
  }
  supervisor_options.file_limit = file_limit.now;
  if (file_limit.now > file_limit.before) {
    log::Info(absl::StrCat("descriptor limit raised from ", file_limit.before, " to ",
                           file_limit.now, " (instances get ", file_limit.before, ")"));
  }
  supervisor::Supervisor supervisor(std::move(supervisor_options));
  routes = RegisterModules(&supervisor, {monitor.get(), recovery.get(), &plan_reporter,
                                         state_sync.get(), &plugin_calls});
  loop = &supervisor;
  absl::Status init = supervisor.Init();
  if (!init.ok()) {
    log::Error(absl::StrCat("cannot start: ", init.message()));
    return kExitFailure;
  }
  // Before anything is spawned: the keeper holds the output FIFOs while no
  // fleetd does (this one's death must not kill its workers).
  EnsurePipeKeeper(run_dir);
  // Metrics (opt-in): rendered on the exporter's threads from a status the
  // loop builds a slice at a time. Started before any instance, so a
  // listener that cannot be had stops fleetd before it starts anything.
  absl::StatusOr<std::unique_ptr<MetricsExporter>> exporter = MetricsExporter::Start(
      loaded->config.metrics(),
      [&supervisor](metrics::Format format) -> std::optional<std::string> {
        absl::StatusOr<fleet::control::v1::GetStatusResponse> status =
            supervisor.AwaitStatus(absl::Seconds(10), /*with_metrics=*/true);
        if (!status.ok()) return std::nullopt;
        return metrics::RenderFleetMetrics(*status, format);
      },
      [&supervisor] {
        auto answered = std::make_shared<fleet::Notification>();
        return supervisor.Post([answered] { answered->Notify(); }) &&
               answered->WaitForNotificationWithTimeout(absl::Seconds(2));
      });
  if (!exporter.ok()) {
    log::Error(absl::StrCat("cannot start metrics: ", exporter.status().message()));
    return kExitFailure;
  }
  supervisor.Apply(*loaded);

  control::ControlServer server(&supervisor, {routes.bus, routes.state, routes.runs}, &events,
                                run_dir, std::move(plugins));
  absl::Status serving = server.Start();
  if (!serving.ok()) {
    log::Error(absl::StrCat("cannot start the control socket: ", serving.message()));
    return kExitFailure;
  }
  for (const std::string& w : loaded->warnings) fprintf(stderr, "warning: %s\n", w.c_str());
  uint32_t instances = 0;
  for (const auto& e : loaded->config.engines()) instances += e.replicas();
  events.Add("fleetd", "ready",
             absl::StrCat("fleet '", loaded->config.name(), "' (", loaded->config.engines_size(),
                          " engines, ", instances, " instances), config ", loaded->path,
                          ", socket ", server.socket_path(), ", version ", defaults::kVersion));
  SdNotify(absl::StrCat("READY=1\nMAINPID=", getpid()));

  supervisor.Run();
  exporter->reset();  // No more scrapes of a loop that has ended.

  SdNotify("STOPPING=1");
  // Every instance has stopped: nothing to hold for a next fleetd.
  StopPipeKeeper(run_dir);
  if (state_sync != nullptr) {
    // What the workers left in their work trees is being committed and
    // pushed: let that finish (bounded), so a clean stop loses nothing.
    state_sync->Drain(kSyncDrain);
  }
  state_sync.reset();  // Its lanes use the recovery plugin's instances.
  recovery.reset();
  monitor.reset();
  events.Close();
  server.Stop();
  lock->RemovePidFile();
  log::Info("fleetd exits");
  return kExitOk;
}

}  // namespace fleet::daemon
