#include "core/config/validate.h"

#include <sys/stat.h>

#include <algorithm>
#include <functional>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/bus/ids.h"
#include "core/config/validator.h"
#include "core/defaults/defaults.h"
#include "core/intel/answer_check.h"
#include "core/killcond/expression.h"
#include "core/os/files.h"
#include "core/os/process.h"
#include "core/schedule/cron.h"
#include "core/yaml/yaml_to_proto.h"
#include "google/protobuf/duration.pb.h"

namespace fleet::config {
namespace {

namespace v1 = ::fleet::config::v1;
using google::protobuf::Duration;

constexpr uint32_t kMaxReplicas = 10000;
constexpr uint32_t kMaxLogFiles = 100;

// Whether argv[0] resolves as Spawn would resolve it (the engine's env
// aside: validation sees fleetd's PATH).
bool ProgramFound(const std::string& program, const std::string& cwd) {
  return os::ResolveProgram(program, os::CurrentEnvironment(), cwd).ok();
}

}  // namespace

void Validator::Run(v1::FleetConfig* config) {
  if (config->run_dir().empty()) config->set_run_dir(defaults::kRunDir);
  config->set_run_dir(os::JoinPath(base_dir_, os::ExpandHome(config->run_dir())));
  CompleteLogs(config->mutable_logs(), v1::LogPolicy());
  if (config->logs().min_free_size() == 0) config->mutable_logs()->set_min_free_size(64ull << 20);
  for (std::string& dir : *config->mutable_plugin_dirs()) {
    dir = os::JoinPath(base_dir_, os::ExpandHome(dir));
  }
  for (v1::Plugin& plugin : *config->mutable_plugins()) {
    if (plugin.file().empty()) Error(&plugin, 0, "plugin needs a file");
    if (plugin.kind() != "health" && plugin.kind() != "sync" && plugin.kind() != "recovery") {
      Error(&plugin, v1::Plugin::kKindFieldNumber,
            absl::StrCat("plugin kind '", plugin.kind(), "' must be health, sync or recovery"));
    }
  }
  absl::flat_hash_map<std::string, const v1::Engine*> by_name;
  for (v1::Engine& engine : *config->mutable_engines()) {
    CheckEngine(&engine, config->logs());
    if (engine.name().empty()) continue;
    auto [it, inserted] = by_name.emplace(engine.name(), &engine);
    if (!inserted) {
      Error(&engine, v1::Engine::kNameFieldNumber,
            absl::StrCat("engine '", engine.name(), "' is declared twice (first at ",
                         map_.Find(it->second, v1::Engine::kNameFieldNumber).ToString(), ")"));
    }
  }
  CheckDependencies(*config, by_name);
  CheckState(config);
  CheckRecovery(config);
  CheckMetrics(config);
  CheckBus(*config);
}

void Validator::Error(const google::protobuf::Message* message, int field, const std::string& text,
                      int index) {
  errors_->push_back(absl::StrCat(map_.Find(message, field, index).ToString(), ": ", text));
}

void Validator::CompleteLogs(v1::LogPolicy* logs, const v1::LogPolicy& fleet) {
  if (logs->max_size() == 0) {
    logs->set_max_size(fleet.max_size() != 0 ? fleet.max_size() : 10 * 1024 * 1024);
  }
  if (!logs->has_max_files()) logs->set_max_files(fleet.has_max_files() ? fleet.max_files() : 5);
  if (!logs->has_max_age() && fleet.has_max_age()) *logs->mutable_max_age() = fleet.max_age();
  if (logs->max_files() > kMaxLogFiles) {
    Error(logs, v1::LogPolicy::kMaxFilesFieldNumber,
          absl::StrCat("max_files must be at most ", kMaxLogFiles));
  }
  if (logs->max_size() < 4096) {
    Error(logs, v1::LogPolicy::kMaxSizeFieldNumber, "max_size must be at least 4KB");
  }
}

void Validator::CheckIntelligence(v1::Engine* e) {
  v1::Output* o = e->mutable_output();
  if (o->max_size() == 0) o->set_max_size(1024 * 1024);
  if (o->format().empty()) o->set_format("text");
  if (o->format() != "json" && o->format() != "yaml" && o->format() != "text") {
    Error(o, v1::Output::kFormatFieldNumber,
          absl::StrCat("format '", o->format(), "' is not known; expected json, yaml or text"));
  }
  if (!o->required_keys().empty() && o->format() == "text") {
    Error(o, v1::Output::kRequiredKeysFieldNumber, "required_keys need format: json or yaml");
  }
  for (int i = 0; i < o->must_match_size(); ++i) {
    if (absl::Status bad = intel::CheckPattern(o->must_match(i)); !bad.ok()) {
      Error(o, v1::Output::kMustMatchFieldNumber, std::string(bad.message()), i);
    }
  }
  for (int i = 0; i < o->must_not_match_size(); ++i) {
    if (absl::Status bad = intel::CheckPattern(o->must_not_match(i)); !bad.ok()) {
      Error(o, v1::Output::kMustNotMatchFieldNumber, std::string(bad.message()), i);
    }
  }
  if (o->max_length() > 0 && o->min_length() > o->max_length()) {
    Error(o, v1::Output::kMinLengthFieldNumber, "min_length is above max_length");
  }
  if (o->has_judge()) {
    if (o->judge().command().empty()) {
      Error(o, v1::Output::kJudgeFieldNumber, "a judge needs a command (argv list)");
    }
    if (!o->judge().has_timeout()) o->mutable_judge()->mutable_timeout()->set_seconds(30);
  }
  if (!o->deliver().empty()) {
    const std::string& d = o->deliver();
    if (d[0] == '/' && e->state()) {
      Error(o, v1::Output::kDeliverFieldNumber,
            "with state: true, deliver is a path inside the work tree (relative)");
    }
    if (absl::StrContains(absl::StrCat("/", d, "/"), "/../")) {
      Error(o, v1::Output::kDeliverFieldNumber,
            absl::StrCat("deliver '", d, "' must not climb out with '..'"));
    }
  }
  v1::Budget* b = e->mutable_budget();
  if (!b->rate_limit_pattern().empty()) {
    if (absl::Status bad = intel::CheckPattern(b->rate_limit_pattern()); !bad.ok()) {
      Error(b, v1::Budget::kRateLimitPatternFieldNumber, std::string(bad.message()));
    }
  }
  v1::Backoff* backoff = b->mutable_rate_limit_backoff();
  if (!backoff->has_initial()) backoff->mutable_initial()->set_seconds(60);
  if (!backoff->has_max()) backoff->mutable_max()->set_seconds(3600);
  if (backoff->factor() == 0) backoff->set_factor(2);
}

void Validator::CheckSchedule(const v1::Engine& e) {
  absl::TimeZone zone = absl::LocalTimeZone();
  if (!e.timezone().empty() && !absl::LoadTimeZone(e.timezone(), &zone)) {
    Error(&e, v1::Engine::kTimezoneFieldNumber,
          absl::StrCat("unknown time zone '", e.timezone(),
                       "'; expected an IANA name like Europe/Berlin or UTC"));
  }
  absl::StatusOr<schedule::Schedule> parsed = schedule::Schedule::Parse(e.schedule());
  if (!parsed.ok()) {
    Error(&e, v1::Engine::kScheduleFieldNumber,
          absl::StrCat("schedule '", e.schedule(), "' is not valid: ", parsed.status().message()));
  } else if (parsed->kind() == schedule::Schedule::Kind::kCalendar &&
             !parsed->NextAfter(absl::Now(), zone).has_value()) {
    Error(&e, v1::Engine::kScheduleFieldNumber,
          absl::StrCat("schedule '", e.schedule(), "' never fires (no such date)"));
  }
}

void Validator::CheckEngine(v1::Engine* e, const v1::LogPolicy& fleet_logs) {
  if (e->name().empty()) {
    Error(e, 0, "engine has no name");
  } else if (!IsValidEngineName(e->name())) {
    Error(e, v1::Engine::kNameFieldNumber,
          absl::StrCat("engine name '", e->name(),
                       "' must start with a letter or digit and use only letters, digits, "
                       "'.', '_' and '-' (at most 64)"));
  }
  if (e->type() == v1::ENGINE_TYPE_UNSPECIFIED) e->set_type(v1::ENGINE_TYPE_DAEMON);
  if (e->command_size() == 0 && e->shell().empty()) {
    Error(e, 0, absl::StrCat("engine '", e->name(), "' needs a command (argv list) or shell"));
  } else if (e->command_size() > 0 && !e->shell().empty()) {
    Error(e, v1::Engine::kShellFieldNumber, "give either command or shell, not both");
  }
  for (int i = 0; i < e->command_size(); ++i) {
    if (e->command(i).find('\0') != std::string::npos || (i == 0 && e->command(i).empty())) {
      Error(e, v1::Engine::kCommandFieldNumber, "command arguments must be non-empty text", i);
    }
  }
  e->set_cwd(e->cwd().empty() ? base_dir_ : os::JoinPath(base_dir_, os::ExpandHome(e->cwd())));
  // Warned, not refused: the directory or program may appear before the
  // engine starts (a mount, a deploy), and a start that fails says why.
  if (warnings_ != nullptr) {
    struct stat st;
    if (::stat(e->cwd().c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      warnings_->push_back(absl::StrCat(map_.Find(e, v1::Engine::kCwdFieldNumber).ToString(),
                                        ": engine '", e->name(), "': cwd ", e->cwd(),
                                        " is not a directory (yet)"));
    } else if (e->command_size() > 0 && !e->command(0).empty() &&
               !ProgramFound(e->command(0), e->cwd())) {
      warnings_->push_back(absl::StrCat(map_.Find(e, v1::Engine::kCommandFieldNumber, 0).ToString(),
                                        ": engine '", e->name(), "': '", e->command(0),
                                        "' is not found in PATH or ", e->cwd()));
    }
  }
  int index = 0;
  for (const auto& [key, value] : e->env()) {
    if (key.empty() || key.find('=') != std::string::npos || absl::ascii_isdigit(key[0])) {
      Error(e, v1::Engine::kEnvFieldNumber,
            absl::StrCat("'", key, "' is not a valid variable name"), index);
    }
    ++index;
  }
  if (!e->has_replicas()) e->set_replicas(1);
  if (e->replicas() > kMaxReplicas) {
    Error(e, v1::Engine::kReplicasFieldNumber,
          absl::StrCat("replicas must be at most ", kMaxReplicas));
  }
  const bool scheduled = e->type() != v1::ENGINE_TYPE_DAEMON;
  if (e->restart() == v1::RESTART_POLICY_UNSPECIFIED) {
    e->set_restart(scheduled ? v1::RESTART_POLICY_ON_FAILURE : v1::RESTART_POLICY_ALWAYS);
  }
  if (scheduled && e->schedule().empty()) {
    Error(e, v1::Engine::kTypeFieldNumber, "cron and intelligence engines need a schedule");
  } else if (!scheduled && !e->schedule().empty()) {
    Error(e, v1::Engine::kScheduleFieldNumber,
          "schedule applies to cron and intelligence engines; set type: cron");
  } else if (scheduled) {
    CheckSchedule(*e);
  }
  for (int i = 0; i < e->capabilities_size(); ++i) {
    if (!bus::IsValidId(e->capabilities(i))) {
      Error(e, v1::Engine::kCapabilitiesFieldNumber,
            absl::StrCat("capability '", e->capabilities(i),
                         "' must be 1 to 100 of [A-Za-z0-9._-], without '..' (it names a "
                         "directory of the work-bus)"),
            i);
    }
  }
  if (e->type() == v1::ENGINE_TYPE_INTELLIGENCE) {
    CheckIntelligence(e);
  } else {
    if (e->has_output()) {
      Error(e, v1::Engine::kOutputFieldNumber,
            "output checks apply to intelligence engines (set type: intelligence)");
    }
    if (e->has_budget()) {
      Error(e, v1::Engine::kBudgetFieldNumber,
            "budget applies to intelligence engines (set type: intelligence)");
    }
  }
  if (scheduled) {
    if (e->overlap() == v1::OVERLAP_POLICY_UNSPECIFIED) e->set_overlap(v1::OVERLAP_POLICY_SKIP);
    if (e->missed() == v1::MISSED_POLICY_UNSPECIFIED) e->set_missed(v1::MISSED_POLICY_RUN_ONCE);
  } else {
    // Settings of scheduled runs on a daemon are a mistake worth saying.
    for (auto [set, field, name] :
         {std::tuple<bool, int, const char*>{!e->timezone().empty(),
                                             v1::Engine::kTimezoneFieldNumber, "timezone"},
          {e->has_timeout(), v1::Engine::kTimeoutFieldNumber, "timeout"},
          {e->has_jitter(), v1::Engine::kJitterFieldNumber, "jitter"},
          {e->overlap() != v1::OVERLAP_POLICY_UNSPECIFIED, v1::Engine::kOverlapFieldNumber,
           "overlap"},
          {e->missed() != v1::MISSED_POLICY_UNSPECIFIED, v1::Engine::kMissedFieldNumber, "missed"},
          {e->has_expected_period(), v1::Engine::kExpectedPeriodFieldNumber, "expected_period"}}) {
      if (set) {
        Error(e, field,
              absl::StrCat(name,
                           " applies to cron and intelligence engines (a daemon's runs "
                           "are timed by cycle: {interval, timeout})"));
      }
    }
  }
  if (e->has_cycle()) {
    const v1::Cycle& c = e->cycle();
    if (scheduled) {
      Error(e, v1::Engine::kCycleFieldNumber,
            "cycle applies to daemons; cron and intelligence engines run on their schedule");
    }
    if (c.interval().seconds() < 0 || c.interval().nanos() < 0 ||
        (c.interval().seconds() == 0 && c.interval().nanos() == 0)) {
      Error(&c, v1::Cycle::kIntervalFieldNumber,
            "a cycle needs an interval above zero (the pause between runs, e.g. 30s)");
    }
    if (c.timeout().seconds() < 0 || c.timeout().nanos() < 0) {
      Error(&c, v1::Cycle::kTimeoutFieldNumber, "a cycle's timeout must not be negative");
    }
  }
  CheckBackoff(e->mutable_backoff());
  if (!e->crash_loop().has_max_failures()) e->mutable_crash_loop()->set_max_failures(10);
  SetIfUnset(e->mutable_crash_loop()->mutable_window(), 5 * 60 * 1000);
  if (!e->has_min_uptime()) SetIfUnset(e->mutable_min_uptime(), 1000);
  v1::Stop* stop = e->mutable_stop();
  if (stop->signal().empty()) stop->set_signal("TERM");
  if (!os::SignalFromName(stop->signal()).has_value()) {
    Error(stop, v1::Stop::kSignalFieldNumber,
          absl::StrCat("'", stop->signal(), "' is not a signal name such as TERM or INT"));
  }
  if (!stop->has_grace()) SetIfUnset(stop->mutable_grace(), 10 * 1000);
  CompleteLogs(e->mutable_logs(), fleet_logs);
  const v1::Health& h = e->health();
  if (h.log_max_age_min() < 0) {
    Error(&h, v1::Health::kLogMaxAgeMinFieldNumber, "log_max_age_min must not be negative");
  }
  // A window or period of zero would judge (or check) without pause.
  for (const auto& [field, number, what] :
       std::vector<std::tuple<const Duration*, int, const char*>>{
           {&h.log_max_age(), v1::Health::kLogMaxAgeFieldNumber, "log_max_age"},
           {&h.heartbeat_max_age(), v1::Health::kHeartbeatMaxAgeFieldNumber, "heartbeat_max_age"},
           {&h.period(), v1::Health::kPeriodFieldNumber, "period"},
           {&h.timeout(), v1::Health::kTimeoutFieldNumber, "timeout"},
           {&h.cpu_window(), v1::Health::kCpuWindowFieldNumber, "cpu_window"}}) {
    const bool set = h.GetReflection()->HasField(h, h.GetDescriptor()->FindFieldByNumber(number));
    if (set && Millis(*field) <= 0) {
      Error(&h, number, absl::StrCat("health.", what, " must be more than zero"));
    }
  }
  for (const auto& [port, message, number, what] :
       std::vector<std::tuple<int64_t, const google::protobuf::Message*, int, const char*>>{
           {h.tcp().port(), &h.tcp(), v1::TcpProbe::kPortFieldNumber, "tcp"},
           {h.http().port(), &h.http(), v1::HttpProbe::kPortFieldNumber, "http"}}) {
    const bool given = message->GetReflection()->HasField(
        *message, message->GetDescriptor()->FindFieldByNumber(number));
    if ((given || port != 0) && (port < 1 || port > 65535)) {
      Error(message, number, absl::StrCat(what, " probe port ", port, " is not 1-65535"));
    }
  }
  if (h.has_heartbeat_max_age() && h.heartbeat_path().empty()) {
    Error(&h, v1::Health::kHeartbeatMaxAgeFieldNumber, "heartbeat_max_age needs a heartbeat_path");
  }
  if (!h.heartbeat_path().empty()) {
    e->mutable_health()->set_heartbeat_path(
        os::JoinPath(e->cwd(), os::ExpandHome(h.heartbeat_path())));
  }
  if (!h.log_path().empty()) {
    e->mutable_health()->set_log_path(os::JoinPath(e->cwd(), os::ExpandHome(h.log_path())));
  }
  if (!e->kill_condition().empty()) {
    absl::StatusOr<killcond::Expression> condition =
        killcond::Expression::Parse(e->kill_condition());
    if (!condition.ok()) {
      Error(e, v1::Engine::kKillConditionFieldNumber,
            absl::StrCat("kill_condition '", e->kill_condition(),
                         "' is not valid: ", condition.status().message()));
    }
  }
  if (!e->metrics_path().empty()) {
    e->set_metrics_path(os::JoinPath(e->cwd(), os::ExpandHome(e->metrics_path())));
  }
}

bool IsValidEngineName(const std::string& name) {
  if (name.empty() || name.size() > 64 || !absl::ascii_isalnum(name[0])) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

void ValidateAndComplete(const std::string& base_dir, const yaml::SourceMap& map,
                         v1::FleetConfig* config, std::vector<std::string>* errors,
                         std::vector<std::string>* warnings) {
  Validator(base_dir, map, errors, warnings).Run(config);
}

}  // namespace fleet::config
