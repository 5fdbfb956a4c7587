#include "core/export/systemd_units.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "core/export/fleet_commands.h"
#include "core/export/systemd_calendar.h"
#include "core/os/files.h"
#include "core/proto_time/proto_time.h"
#include "core/schedule/cron.h"

namespace fleet::exporting {
namespace {

namespace v1 = ::fleet::config::v1;

// Seconds as systemd's time spans read them ("1.5s", "90s").
std::string Span(const google::protobuf::Duration& d) {
  const absl::Duration duration = FromProto(d);
  return absl::StrCat(absl::FormatDuration(absl::Trunc(duration, absl::Milliseconds(1))));
}

std::string Unit(const std::string& engine, const std::string& instance, const char* kind) {
  return absl::StrCat("fleet-", engine, "@", instance, ".", kind);
}

// The lines of one unit file, with what was not carried over as comments.
class UnitText {
 public:
  void Comment(const std::string& text) { absl::StrAppend(&text_, "# ", text, "\n"); }
  void Section(const char* name) {
    absl::StrAppend(&text_, text_.empty() || text_.back() == '\n' ? "" : "\n", "\n[", name, "]\n");
  }
  void Set(const char* key, const std::string& value) {
    absl::StrAppend(&text_, key, "=", value, "\n");
  }
  // Lines made elsewhere, each ending in a newline.
  void Raw(const std::string& lines) { text_ += lines; }
  std::string Take() { return std::move(text_); }

 private:
  std::string text_;
};

// What fleet does for the engine that systemd does not (comments and
// warnings).
std::vector<Lost> NotCarriedOver(const v1::Engine& e) {
  std::vector<Lost> lost;
  if (e.backoff().factor() > 1) {
    lost.push_back({v1::Engine::kBackoffFieldNumber,
                    absl::StrCat("backoff grows from ", Span(e.backoff().initial()), " by x",
                                 e.backoff().factor(), " up to ", Span(e.backoff().max()),
                                 "; systemd 252 restarts after a fixed RestartSec")});
  }
  const v1::Health& h = e.health();
  if (h.has_log_max_age() || !h.heartbeat_path().empty() || h.cpu_progress() || h.has_exec() ||
      h.has_tcp() || h.has_http() || !h.check().empty()) {
    lost.push_back(
        {v1::Engine::kHealthFieldNumber,
         "health checks (log freshness, heartbeat, CPU progress, probes): systemd restarts only "
         "what exits; a worker that sends sd_notify WATCHDOG=1 can use WatchdogSec="});
  }
  if (e.state() && e.type() == v1::ENGINE_TYPE_DAEMON && !e.has_cycle()) {
    lost.push_back({v1::Engine::kStateFieldNumber,
                    "state.watchdog: what a running daemon leaves uncommitted is published at "
                    "its stop, not every watchdog interval"});
  }
  if (e.capabilities_size() > 0) {
    lost.push_back({v1::Engine::kCapabilitiesFieldNumber,
                    "capabilities: tasks reach these workers (FLEET_RUN_DIR) only while a fleetd "
                    "on that run dir conducts the bus with bus.external_capabilities naming them"});
  }
  if (e.depends_on_size() > 0) {
    lost.push_back({v1::Engine::kDependsOnFieldNumber,
                    "depends_on orders the start only; fleet also waits for health"});
  }
  if (e.overlap() == v1::OVERLAP_POLICY_QUEUE || e.overlap() == v1::OVERLAP_POLICY_REPLACE) {
    lost.push_back({v1::Engine::kOverlapFieldNumber,
                    "overlap: systemd skips a slot while the run goes on (fleet's skip)"});
  }
  if (e.type() == v1::ENGINE_TYPE_INTELLIGENCE) {
    lost.push_back({v1::Engine::kTypeFieldNumber,
                    "intelligence: answer checks, judge, budget and rate limits are not applied"});
  }
  return lost;
}

// Stands for the instance (%i, which SystemdQuote would escape) in the
// paths fleet makes per instance: its work tree and kill marker.
constexpr char kInstance[] = "\x01";

// Words fleet made, quoted, kInstance as %i (never the operator's words:
// those go through SystemdQuote alone).
std::string QuoteOurs(const std::vector<std::string>& words) {
  std::vector<std::string> quoted;
  for (const std::string& w : words) {
    quoted.push_back(absl::StrReplaceAll(SystemdQuote(w), {{kInstance, "%i"}}));
  }
  return absl::StrJoin(quoted, " ");
}

// `fleetd sync-state OP` on <work_trees>/ENGINE.N (fleetd's own layout);
// the verb's words plain, the rest quoted.
std::string SyncState(const v1::State& s, const std::string& engine, const std::string& op,
                      const std::string& fleetd) {
  const std::vector<std::string> argv = SyncStateArgv(
      fleetd, s, op, absl::StrCat(os::JoinPath(s.work_trees(), engine), ".", kInstance));
  return absl::StrCat(SystemdQuote(argv[0]), " ", argv[1], " ", argv[2], " ", argv[3], " ",
                      QuoteOurs({argv.begin() + 4, argv.end()}));
}

}  // namespace

std::string SystemdQuote(const std::string& arg) {
  std::string out = "\"";
  for (char c : arg) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '%':
        out += "%%";
        break;
      case '$':
        out += "$$";
        break;
      default:
        out += c;
    }
  }
  return out + "\"";
}

absl::StatusOr<Exported> ExportSystemd(const config::LoadedConfig& loaded,
                                       const SystemdOptions& options) {
  const v1::FleetConfig& config = loaded.config;
  Exported out;
  const std::string target = absl::StrCat("fleet-", config.name(), ".target");
  std::vector<std::string> wanted;
  for (int index = 0; index < config.engines_size(); ++index) {
    const v1::Engine& e = config.engines(index);
    const bool scheduled =
        e.type() == v1::ENGINE_TYPE_CRON || e.type() == v1::ENGINE_TYPE_INTELLIGENCE;
    const bool cycle =
        !scheduled && e.has_cycle() && FromProto(e.cycle().interval()) > absl::ZeroDuration();
    const uint32_t replicas = e.has_replicas() ? e.replicas() : 1;
    UnitText service;
    service.Comment(absl::StrCat("Engine ", e.name(), " of fleet ", config.name(), " (",
                                 loaded.path, "), by `fleetctl export systemd`."));
    service.Comment(absl::StrCat("Instances ", Unit(e.name(), "0", "service"),
                                 replicas > 1 ? absl::StrCat(" .. @", replicas - 1) : "",
                                 "; %i is FLEET_INSTANCE."));
    service.Raw(out.Warn(loaded, index, NotCarriedOver(e)));
    service.Section("Unit");
    service.Set("Description", absl::StrCat("fleet ", config.name(), ": ", e.name(), "/%i",
                                            e.description().empty() ? "" : " - ", e.description()));
    service.Set("PartOf", target);
    for (const std::string& dep : e.depends_on()) {
      const v1::Engine* other = nullptr;
      for (const v1::Engine& x : config.engines()) {
        if (x.name() == dep) other = &x;
      }
      const uint32_t n = other != nullptr && other->has_replicas() ? other->replicas() : 1;
      std::vector<std::string> units;
      for (uint32_t i = 0; i < n; ++i) units.push_back(Unit(dep, absl::StrCat(i), "service"));
      service.Set("Requires", absl::StrJoin(units, " "));
      service.Set("After", absl::StrJoin(units, " "));
    }
    // The crash-loop limit: past max_failures starts within the window,
    // systemd gives up as fleet goes FATAL.
    if (e.crash_loop().max_failures() > 0) {
      service.Set("StartLimitIntervalSec", Span(e.crash_loop().window()));
      service.Set("StartLimitBurst", absl::StrCat(e.crash_loop().max_failures()));
    } else {
      service.Set("StartLimitIntervalSec", "0");
    }
    service.Section("Service");
    service.Set("Type", "exec");
    std::vector<std::string> argv;
    if (!e.shell().empty()) {
      argv = {"/bin/sh", "-c", e.shell()};
    } else {
      argv.assign(e.command().begin(), e.command().end());
      if (argv[0].find('/') != std::string::npos && argv[0][0] != '/') {
        argv[0] = absl::StrCat(e.cwd(), "/", argv[0]);  // systemd wants it absolute.
      }
    }
    std::vector<std::string> quoted;
    if (!e.kill_condition().empty()) {
      // fleet's own judge around the worker; its marker keeps the
      // instance stopped (remove it to run the instance again).
      quoted.push_back(QuoteOurs(KillWatchArgv(
          options.fleetd, e,
          absl::StrCat(os::JoinPath(config.run_dir(), "kill/" + e.name()), ".", kInstance))));
    }
    for (const std::string& a : argv) quoted.push_back(SystemdQuote(a));
    const bool state = e.state() && !config.state().remote().empty();
    if (state) {
      // The work tree is pulled before every start and published after
      // every stop (each run of a cron or cycle engine), as fleetd does.
      service.Set("ExecStartPre", SyncState(config.state(), e.name(), "pull", options.fleetd));
    }
    service.Set("ExecStart", absl::StrJoin(quoted, " "));
    if (state) {
      service.Set("ExecStopPost", SyncState(config.state(), e.name(), "publish", options.fleetd));
    }
    // A path, unquoted (systemd takes the rest of the line); specifiers escaped.
    service.Set("WorkingDirectory", absl::StrReplaceAll(e.cwd(), {{"%", "%%"}}));
    for (const auto& [key, value] :
         std::map<std::string, std::string>(e.env().begin(), e.env().end())) {
      service.Set("Environment", SystemdQuote(absl::StrCat(key, "=", value)));
    }
    service.Set("Environment", SystemdQuote(absl::StrCat("FLEET_ENGINE=", e.name())));
    service.Set("Environment", "\"FLEET_INSTANCE=%i\"");
    if (state) {
      service.Set("Environment",
                  QuoteOurs({absl::StrCat(
                      "FLEET_STATE_DIR=", os::JoinPath(config.state().work_trees(), e.name()), ".",
                      kInstance)}));
    }
    if (e.capabilities_size() > 0) {
      service.Set("Environment", SystemdQuote("FLEET_RUN_DIR=" + config.run_dir()));
    }
    const v1::RestartPolicy restart = e.restart();
    // A scheduled run that succeeded is done; a failed one is retried.
    service.Set("Restart", restart == v1::RESTART_POLICY_NEVER ? "no"
                           : restart == v1::RESTART_POLICY_ON_FAILURE || scheduled || cycle
                               ? "on-failure"
                               : "always");
    service.Set("RestartSec", Span(e.backoff().initial()));
    service.Set("KillMode", "control-group");
    const std::string signal = e.stop().signal().empty() ? "TERM" : e.stop().signal();
    service.Set("KillSignal", absl::StartsWith(signal, "SIG") ? signal : "SIG" + signal);
    service.Set("TimeoutStopSec", Span(e.stop().grace()));
    const google::protobuf::Duration& timeout = cycle ? e.cycle().timeout() : e.timeout();
    if (FromProto(timeout) > absl::ZeroDuration()) service.Set("RuntimeMaxSec", Span(timeout));
    if (!scheduled && !cycle) {
      service.Section("Install");
      service.Set("WantedBy", target);
      for (uint32_t i = 0; i < replicas; ++i)
        wanted.push_back(Unit(e.name(), absl::StrCat(i), "service"));
    }
    out.files.push_back({Unit(e.name(), "", "service"), service.Take()});
    if (!scheduled && !cycle) continue;

    UnitText timer;
    timer.Comment(absl::StrCat("When ", e.name(), "'s runs start",
                               scheduled ? absl::StrCat(" (schedule: ", e.schedule(), ")") : "",
                               "; by `fleetctl export systemd`."));
    std::vector<std::pair<const char*, std::string>> when;
    if (cycle) {
      // The next run a cycle interval after the last one ended.
      when = {{"OnActiveSec", "0"}, {"OnUnitInactiveSec", Span(e.cycle().interval())}};
    } else {
      absl::StatusOr<schedule::Schedule> parsed = schedule::Schedule::Parse(e.schedule());
      if (!parsed.ok()) return parsed.status();  // Validated at load: cannot happen.
      switch (parsed->kind()) {
        case schedule::Schedule::Kind::kReboot:
          when = {{"OnBootSec", "0"}};
          break;
        case schedule::Schedule::Kind::kEvery:
          when = {{"OnActiveSec", "0"}, {"OnUnitActiveSec", absl::FormatDuration(parsed->every())}};
          break;
        case schedule::Schedule::Kind::kCalendar: {
          absl::TimeZone zone = absl::LocalTimeZone();
          if (!e.timezone().empty()) absl::LoadTimeZone(e.timezone(), &zone);
          const OnCalendar calendar = ToOnCalendar(*parsed, e.timezone(), zone, options.now);
          if (!calendar.differs.empty()) {
            if (!options.approximate) {
              return absl::FailedPreconditionError(absl::StrCat(
                  loaded.path, ": engine ", e.name(), ": schedule '", e.schedule(),
                  "': ", calendar.differs, ". Pass --approximate to export it anyway."));
            }
            timer.Comment("Approximate: " + calendar.differs);
            (void)out.Warn(
                loaded, index,
                {{v1::Engine::kScheduleFieldNumber, "approximate: " + calendar.differs}});
          }
          for (const std::string& line : calendar.lines) when.push_back({"OnCalendar", line});
          break;
        }
      }
    }
    timer.Section("Unit");
    timer.Set("Description", absl::StrCat("fleet ", config.name(), ": ", e.name(), "/%i runs"));
    timer.Set("PartOf", target);
    timer.Section("Timer");
    for (const auto& [key, value] : when) timer.Set(key, value);
    // missed: run_once catches up on a slot passed while down; skip does not.
    if (scheduled) {
      timer.Set("Persistent", e.missed() == v1::MISSED_POLICY_SKIP ? "false" : "true");
    }
    if (FromProto(e.jitter()) > absl::ZeroDuration()) {
      timer.Set("RandomizedDelaySec", Span(e.jitter()));
    }
    timer.Set("AccuracySec", "1s");
    timer.Section("Install");
    timer.Set("WantedBy", target);
    out.files.push_back({Unit(e.name(), "", "timer"), timer.Take()});
    for (uint32_t i = 0; i < replicas; ++i)
      wanted.push_back(Unit(e.name(), absl::StrCat(i), "timer"));
  }
  UnitText group;
  group.Comment(absl::StrCat("Fleet ", config.name(), " (", loaded.path, "): `systemctl start ",
                             target, "` starts every engine."));
  group.Section("Unit");
  group.Set("Description", absl::StrCat("fleet ", config.name()));
  group.Set("Wants", absl::StrJoin(wanted, " "));
  group.Section("Install");
  group.Set("WantedBy", "multi-user.target");
  out.files.push_back({target, group.Take()});
  return out;
}

}  // namespace fleet::exporting
