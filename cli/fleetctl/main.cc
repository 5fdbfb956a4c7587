// fleetctl: queries and commands fleetd over its unix socket. The command
// table below parses the command line (CLI11) into commands.h's calls.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cli/fleetctl/bus_worker.h"
#include "cli/fleetctl/cli_docs.h"
#include "cli/fleetctl/commands.h"
#include "cli/fleetctl/fleet_finder.h"
#include "cli/fleetctl/install.h"
#include "core/defaults/defaults.h"

namespace fleet::cli {
namespace {

constexpr char kFooter[] = R"(
TARGET is ENGINE, ENGINE/N or all. The fleet: --run-dir DIR; else -c/--config
FILE (its run_dir); else ./fleet.yaml in the current directory; else
$FLEET_RUN_DIR; else ~/.fleet/run. Without a flag, the first of these whose
fleetd is running is used. Colours only on a terminal (never with NO_COLOR).

Exit codes: 0 ok; 1 the operation failed; 2 usage error or invalid input;
3 (status) not every instance is RUNNING (or IDLE), (health, brief) something
that should run is not running and healthy, (bus claim) no task; 4 no such
engine or instance; 5 fleetd is not running or cannot be reached. `lock` exits
with CMD's status.)";

// A duration flag ("15s", "2m") for CLI11.
struct DurationText {
  absl::Duration* out;
  std::string operator()(const std::string& text) const {
    return absl::ParseDuration(text, out) ? "" : "'" + text + "' is not a duration such as 15s";
  }
};

}  // namespace

// The command table: every command, its arguments and flags, its help. It
// drives parsing, `--help` at every level, the man page and the shell
// completions (cli_docs.h), so they cannot disagree.
int Main(int argc, char** argv) {
  Globals g;
  const char* no_color = getenv("NO_COLOR");
  const char* term = getenv("TERM");
  g.color = isatty(STDOUT_FILENO) && (no_color == nullptr || *no_color == '\0') &&
            !(term != nullptr && std::string(term) == "dumb");

  CLI::App app{"commands for fleetd, the supervisor of a fleet of processes", "fleetctl"};
  app.footer(kFooter);

  app.require_subcommand(1, 1);
  app.fallthrough();  // `status -o json`: global flags after the command too.
  std::string output = "table";
  bool plain = false;
  // A global flag given twice: the last one wins, as in most command lines.
  app.add_option("--run-dir", g.run_dir_flag, "the fleet's run directory")
      ->option_text("DIR")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("-c,--config", g.config_flag, "the fleet's config file (its run_dir is used)")
      ->option_text("FILE")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("-o,--output", output,
                 "output format: table, json, or protojson (protobuf's mapping, for programs "
                 "that parse into fleet's protos)")
      ->check(CLI::IsMember({"table", "json", "protojson"}))
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
      ->option_text("FORMAT");
  app.add_option_function<std::string>(
         "--timeout", [&g](const std::string&) { g.timeout_set = true; },
         "how long to wait for fleetd's answer (default 15s)")
      ->check(DurationText{&g.timeout})
      ->option_text("DURATION");
  app.add_flag("--no-color", plain, "no colours (also: NO_COLOR set, or not a terminal)");

  // What the chosen command does, once the fleet is found.
  std::function<int(Commands&)> action;
  // Whether it needs the fleet's run dir (init, validate and the generators do not).
  bool needs_fleet = true;
  auto command = [&app](const char* name, const char* help) {
    CLI::App* c = app.add_subcommand(name, help);
    c->fallthrough();
    return c;
  };

  std::vector<std::string> status_targets;
  CLI::App* status =
      command("status", "every instance: state, pid, uptime, restarts, CPU, RSS, reason");
  status->add_option("TARGET", status_targets, "only these: ENGINE, ENGINE/N or all");
  status->callback([&] { action = [&](Commands& c) { return c.Status(status_targets); }; });
  command("health", "is each instance alive and progressing, and its kill condition")
      ->callback([&] { action = [](Commands& c) { return c.Health(false); }; });
  command("brief", "one screen: counts, what needs attention and why, warnings")->callback([&] {
    action = [](Commands& c) { return c.Health(true); };
  });
  command("plugins", "loaded plugins, their versions, and why any was refused")->callback([&] {
    action = [](Commands& c) { return c.Plugins(); };
  });
  bool openmetrics = false;
  CLI::App* metrics = command(
      "metrics", "the Prometheus exposition fleetd serves on /metrics (no listener needed)");
  metrics->add_flag("--openmetrics", openmetrics,
                    "OpenMetrics 1.0 instead of the text format 0.0.4");
  metrics->callback([&] { action = [&](Commands& c) { return c.Metrics(openmetrics); }; });

  std::vector<std::string> targets;
  bool act_no_wait = false;
  for (const char* verb : {"start", "stop", "restart", "run"}) {
    const std::string name = verb;
    const std::string help =
        name == "run" ? "start a run of a cron or intelligence engine now"
                      : name + " instances, and wait until each has (printed as it does)";
    CLI::App* c = command(verb, help.c_str());
    c->add_option("TARGET", targets, "ENGINE, ENGINE/N or all")->required();
    if (name != "run") c->add_flag("--no-wait", act_no_wait, "return once fleetd has been asked");
    c->callback([&, name] {
      action = [&, name](Commands& cmd) { return cmd.Act(name, targets, !act_no_wait); };
    });
  }

  std::string target, message, path, run, task;
  uint32_t lines = 20;
  bool follow = false;
  CLI::App* runs = command("runs", "a cron or intelligence engine's last runs, newest first");
  runs->add_option("TARGET", target, "ENGINE or ENGINE/N")->required();
  runs->add_option("-n,--lines", lines, "how many runs (default 20)")->option_text("N");
  runs->callback([&] { action = [&](Commands& c) { return c.Runs(target, lines); }; });

  LogOptions log_options;
  CLI::App* logs =
      command("logs", "captured output of instances, merged by time (stderr lines go to stderr)");
  logs->add_option("TARGET", log_options.targets,
                   "ENGINE (every replica), ENGINE/N or all (default)");
  logs->add_flag("-f,--follow", log_options.follow, "keep printing what they write");
  logs->add_option_function<uint32_t>(
          "-n,--lines", [&](uint32_t n) { log_options.lines = n; },
          "lines from the end of each log (default 50, following 10; 0: none)")
      ->option_text("N");
  logs->add_flag("-t,--timestamps", log_options.timestamps, "when fleetd read each line (UTC)");
  logs->add_flag("--no-prefix", log_options.no_prefix, "no instance in front of lines");
  logs->callback([&] { action = [&](Commands& c) { return c.Logs(log_options); }; });

  CLI::App* events = command("events", "what fleetd did, newest last");
  events->add_flag("-f,--follow", follow, "keep printing new events");
  events->add_option("-n,--lines", lines, "how many past events (default 20)")->option_text("N");
  events->callback([&] { action = [&](Commands& c) { return c.Events(follow, lines); }; });

  absl::Duration top_interval = absl::Seconds(2);
  bool top_once = false;
  CLI::App* top =
      command("top", "a live view of every instance: state, CPU, RSS, health (q quits)");
  top->add_option("--interval", "between refreshes (default 2s)")
      ->check(DurationText{&top_interval})
      ->option_text("DURATION");
  top->add_flag("--once", top_once, "print one frame and exit (also when not on a terminal)");
  top->callback([&] { action = [&](Commands& c) { return c.Top(top_interval, top_once); }; });

  command("reload", "re-read the config; apply only what changed")->callback([&] {
    action = [](Commands& c) { return c.Reload(); };
  });
  bool no_wait = false;
  CLI::App* shutdown =
      command("shutdown", "stop every engine in reverse dependency order; fleetd exits");
  shutdown->add_flag("--no-wait", no_wait, "return once fleetd has begun to stop");
  shutdown->callback([&] { action = [&](Commands& c) { return c.Shutdown(!no_wait); }; });

  CLI::App* validate = command("validate", "check a config without a daemon (fleetd validate)");
  validate->add_option("PATH", path, "a fleet file, or a directory of engine files")->required();
  validate->callback([&] {
    needs_fleet = false;
    action = [&](Commands&) { return ValidateFleetFile(path); };
  });
  struct {
    std::string target, config, dir, image, ns;
    bool approximate = false, force = false;
  } exporting;
  CLI::App* export_command =
      command("export", "the fleet file for another scheduler (systemd, kubernetes, nomad)");
  export_command->add_option("TARGET", exporting.target, "systemd, kubernetes or nomad")
      ->required()
      ->check(CLI::IsMember({"systemd", "kubernetes", "nomad"}));
  export_command->add_option("CONFIG", exporting.config, "the fleet file")->required();
  export_command
      ->add_option("-o,--output", exporting.dir,
                   "a directory to write the files into; - prints them (the default)")
      ->option_text("DIR");
  export_command->add_flag("--approximate", exporting.approximate,
                           "export a schedule the target would fire at other times, saying so");
  export_command->add_flag("--force", exporting.force,
                           "replace files in DIR that differ from the export");
  export_command
      ->add_option("--image", exporting.image,
                   "kubernetes: the image with the workload and fleet's binaries")
      ->option_text("IMAGE");
  export_command->add_option("--namespace", exporting.ns, "kubernetes: every object's namespace")
      ->option_text("NS");
  export_command->callback([&] {
    needs_fleet = false;
    action = [&](Commands&) {
      std::vector<std::string> args = {exporting.target, exporting.config};
      if (!exporting.dir.empty()) args.insert(args.end(), {"-o", exporting.dir});
      if (exporting.approximate) args.push_back("--approximate");
      if (exporting.force) args.push_back("--force");
      if (!exporting.image.empty()) args.insert(args.end(), {"--image", exporting.image});
      if (!exporting.ns.empty()) args.insert(args.end(), {"--namespace", exporting.ns});
      return ExportFleet(args);
    };
  });
  std::vector<std::string> probe_files, probe_ages;
  CLI::App* probe =
      command("probe", "exec probe: exit 0 if each file was written within its max age");
  probe->add_option("--file", probe_files, "a heartbeat or log file (repeatable)")
      ->required()
      ->option_text("PATH");
  probe->add_option("--max-age", probe_ages, "how old it may be, one per --file")
      ->required()
      ->option_text("DURATION");
  probe->callback([&] {
    needs_fleet = false;
    action = [&](Commands&) { return ProbeFiles(probe_files, probe_ages); };
  });
  CLI::App* init = command("init", "write a commented starter config (never over a file)");
  init->add_option("PATH", path, "where (default fleet.yaml)");
  init->callback([&] {
    needs_fleet = false;
    action = [&](Commands&) { return InitFleetFile(path.empty() ? "fleet.yaml" : path); };
  });

  std::string lock_name;
  absl::Duration lock_wait = absl::InfiniteDuration();
  std::vector<std::string> lock_command;
  CLI::App* lock = command("lock", "run a command holding the run dir's mkdir lock NAME");
  lock->add_option("NAME", lock_name, "the lock's name")->required();
  lock->add_option("--wait", "give up after this long (default: wait)")
      ->check(DurationText{&lock_wait})
      ->option_text("DURATION");
  lock->add_option("CMD", lock_command, "the command and its arguments (after --)")->required();
  lock->callback([&] {
    action = [&](Commands&) { return RunUnderLock(g.run_dir, lock_name, lock_wait, lock_command); };
  });

  CLI::App* sync = command("sync", "pull the shared state of TARGET's work trees now");
  sync->add_option("TARGET", target, "default: the instance this runs in");
  sync->callback([&] { action = [&](Commands& c) { return c.SyncState(target, false, ""); }; });
  CLI::App* commit = command("commit", "commit everything in TARGET's work trees and push it");
  commit->add_option("-m,--message", message, "the commit message")->required()->option_text("MSG");
  commit->add_option("TARGET", target, "default: the instance this runs in");
  commit->callback(
      [&] { action = [&](Commands& c) { return c.SyncState(target, true, message); }; });

  // bus: the work-bus, with verbs of its own.
  CLI::App* bus = command("bus", "the work-bus: DAG runs and the worker side of tasks");
  bus->require_subcommand(1, 1);
  CLI::App* submit = bus->add_subcommand("submit", "start a run of a DAG file (YAML or JSON)");
  submit->fallthrough();
  submit->add_option("DAG", path, "the DAG file ('-': stdin)")->required();
  submit->add_option("--run", run, "the run's name (default: from the file and time)")
      ->option_text("NAME");
  submit->callback([&] { action = [&](Commands& c) { return c.BusSubmit(path, run); }; });
  CLI::App* bus_status = bus->add_subcommand("status", "runs and their tasks");
  bus_status->fallthrough();
  bus_status->add_option("RUN", run, "one run (default: all)");
  bus_status->callback([&] { action = [&](Commands& c) { return c.BusStatus(run); }; });
  CLI::App* cancel = bus->add_subcommand("cancel", "end every task of RUN not ended yet");
  cancel->fallthrough();
  cancel->add_option("RUN", run, "the run")->required();
  cancel->callback(
      [&] { action = [&](Commands& c) { return c.BusCancelOrRetry(run, "", false); }; });
  CLI::App* retry = bus->add_subcommand("retry", "run a failed or skipped TASK again");
  retry->fallthrough();
  retry->add_option("RUN", run, "the run")->required();
  retry->add_option("TASK", task, "the task")->required();
  retry->callback(
      [&] { action = [&](Commands& c) { return c.BusCancelOrRetry(run, task, true); }; });
  // The worker verbs: parsed here, done by the bus worker (no daemon needed).
  BusWorkerCall bus_call;
  auto worker_verb = [&](const char* verb, const char* help) {
    CLI::App* v = bus->add_subcommand(verb, help);
    v->fallthrough();
    v->add_option("--worker", bus_call.worker, "default: $FLEET_ENGINE.$FLEET_INSTANCE")
        ->option_text("NAME");
    return v;
  };
  auto hand_over = [&](const std::string& verb) {
    bus_call.verb = verb;
    action = [&](Commands&) { return BusWorker(g.run_dir, bus_call); };
  };
  CLI::App* claim = worker_verb("claim", "(workers) take the next task: its JSON; exit 3 if none");
  claim->add_option("--capability", bus_call.capability, "the capability to work for")
      ->required()
      ->option_text("C");
  claim->callback([&] { hand_over("claim"); });
  CLI::App* complete = worker_verb("complete", "(workers) hand in a task's result");
  complete->add_option("ID", bus_call.id, "the task's ID, as claim printed it")->required();
  complete->add_option("--result", bus_call.result_file, "the result file, '-' for stdin")
      ->required()
      ->option_text("FILE");
  complete->callback([&] { hand_over("complete"); });
  CLI::App* fail = worker_verb("fail", "(workers) report that a task failed");
  fail->add_option("ID", bus_call.id, "the task's ID")->required();
  fail->add_option("--reason", bus_call.reason, "why")->required()->option_text("TEXT");
  fail->callback([&] { hand_over("fail"); });
  CLI::App* heartbeat = worker_verb("heartbeat", "(workers) renew a claim's lease");
  heartbeat->add_option("ID", bus_call.id, "the task's ID")->required();
  heartbeat->callback([&] { hand_over("heartbeat"); });

  // install systemd
  CLI::App* install = command("install", "install fleetd as a service");
  install->require_subcommand(1, 1);
  SystemdInstall unit;
  CLI::App* systemd = install->add_subcommand(
      "systemd", "write a systemd unit for fleetd (Type=notify, watchdog, Restart=always)");
  systemd->fallthrough();
  systemd
      ->add_option("--unit-dir", unit.unit_dir,
                   "default: /etc/systemd/system as root, else "
                   "~/.config/systemd/user")
      ->option_text("DIR");
  systemd->add_option("--name", unit.name, "the unit's name (default fleetd)")->option_text("NAME");
  systemd->add_flag("--print", unit.print, "print the unit instead of writing it");
  systemd->add_flag("--force", unit.force, "replace a unit that was changed by hand");
  systemd->callback([&] {
    needs_fleet = false;
    unit.config = g.config_flag;
    action = [&](Commands&) { return InstallSystemd(unit, FleetdPath()); };
  });

  command("version", "fleetctl's and fleetd's versions")->callback([&] {
    action = [](Commands& c) { return c.Version(); };
  });

  // Generated from this table: the man page and shell completions.
  std::string shell;
  CLI::App* completion = command("completion", "print a shell completion script");
  completion->add_option("SHELL", shell, "bash or zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}));
  completion->callback([&] {
    needs_fleet = false;
    action = [&](Commands&) {
      fputs((shell == "bash" ? BashCompletion(app) : ZshCompletion(app)).c_str(), stdout);
      return kOk;
    };
  });
  command("help", "this help")->callback([&] {
    needs_fleet = false;
    action = [&](Commands&) {
      fputs(app.get_formatter()->make_help(&app, "fleetctl", CLI::AppFormatMode::Normal).c_str(),
            stdout);
      return kOk;
    };
  });
  CLI::App* man = command("man", "print the manual page (roff)");
  man->group("");  // Not listed: for packaging.
  man->callback([&] {
    needs_fleet = false;
    action = [&](Commands&) {
      fputs(ManPage(app, defaults::kVersion).c_str(), stdout);
      return kOk;
    };
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return Usage(ExplainParseError(app, e, argc, argv));
  }
  g.json = output != "table";
  g.protojson = output == "protojson";
  g.color = g.color && !plain;
  if (needs_fleet) {
    g.places = FleetPlaces(g.run_dir_flag, g.config_flag, FleetdPath());
    g.run_dir = ChooseRunDir(g.places);
    if (g.run_dir.empty()) {
      return Fail(kUsage, absl::StrCat("no fleet to talk to: ", DescribePlaces(g.places)));
    }
  }
  Commands commands(g);
  return action(commands);
}

}  // namespace fleet::cli

int main(int argc, char** argv) { return fleet::cli::Main(argc, argv); }
