#include "core/export/nomad.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/export/fleet_commands.h"
#include "core/export/kubernetes.h"
#include "core/health/policy.h"
#include "core/proto_time/proto_time.h"
#include "core/schedule/cron.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace fleet::exporting {
namespace {

namespace v1 = ::fleet::config::v1;
using google::protobuf::Struct;
using google::protobuf::Value;

Value Str(const std::string& s) {
  Value v;
  v.set_string_value(s);
  return v;
}
Value Num(double n) {
  Value v;
  v.set_number_value(n);
  return v;
}
Value Flag(bool b) {
  Value v;
  v.set_bool_value(b);
  return v;
}
Value Obj(Struct s) {
  Value v;
  *v.mutable_struct_value() = std::move(s);
  return v;
}
Value Strs(const std::vector<std::string>& items) {
  Value v;
  for (const std::string& s : items) *v.mutable_list_value()->add_values() = Str(s);
  return v;
}
// The jobs API takes durations in nanoseconds.
Value Nanos(absl::Duration d) { return Num(absl::ToDoubleNanoseconds(d)); }
void Set(Struct* s, const std::string& key, Value v) { (*s->mutable_fields())[key] = std::move(v); }

// FLEET_INSTANCE from the allocation's index.
constexpr char kInstance[] = "export FLEET_INSTANCE=\"$NOMAD_ALLOC_INDEX\"; ";
// An instance's work tree and kill marker: in the allocation's directory,
// which its tasks share (Nomad interpolates ${NOMAD_ALLOC_DIR} in args and env).
constexpr char kStateTree[] = "${NOMAD_ALLOC_DIR}/state/tree";
constexpr char kKillMarker[] = "${NOMAD_ALLOC_DIR}/kill/stopped";

// `fleetd sync-state OP` on the allocation's work tree.
std::vector<std::string> SyncState(const v1::State& state, const std::string& op) {
  return SyncStateArgv("fleetd", state, op, kStateTree);
}

// A raw_exec task running script (for /bin/sh -c) with argv after it.
Struct ShellTask(const std::string& name, const std::string& script,
                 const std::vector<std::string>& argv, Struct env) {
  Struct config;
  Set(&config, "command", Str("/bin/sh"));
  std::vector<std::string> args = {"-c", script};
  args.insert(args.end(), argv.begin(), argv.end());
  Set(&config, "args", Strs(args));
  Struct task;
  Set(&task, "Name", Str(name));
  Set(&task, "Driver", Str("raw_exec"));
  Set(&task, "Config", Obj(config));
  Set(&task, "Env", Obj(std::move(env)));
  return task;
}

// The tasks that keep an allocation's state: a prestart task pulls (the
// clone), a prestart sidecar publishes every watchdog and at its stop.
Struct SyncTask(const v1::Engine& e, const v1::State& state, const std::string& op) {
  Struct env;
  Set(&env, "FLEET_ENGINE", Str(e.name()));
  Struct task = ShellTask(op == "pull" ? "state-pull" : "state-sync",
                          absl::StrCat(kInstance, "exec \"$0\" \"$@\""), SyncState(state, op), env);
  Struct lifecycle;
  Set(&lifecycle, "Hook", Str("prestart"));
  Set(&lifecycle, "Sidecar", Flag(op == "watch"));
  Set(&task, "Lifecycle", Obj(lifecycle));
  return task;
}

// The task: the command run in the engine's directory (under fleetd
// kill-watch with a kill condition; its tree pulled first with state).
Struct Task(const v1::Engine& e, const v1::State* state, std::vector<Lost>* lost) {
  std::vector<std::string> argv;
  if (!e.shell().empty()) {
    argv = {"/bin/sh", "-c", e.shell()};
  } else {
    argv.assign(e.command().begin(), e.command().end());
  }
  if (!e.kill_condition().empty()) {
    const std::vector<std::string> watch = KillWatchArgv("fleetd", e, kKillMarker);
    argv.insert(argv.begin(), watch.begin(), watch.end());
  }
  // The directory in single quotes (a quote in it closed, escaped, reopened).
  const std::string dir = absl::StrReplaceAll(e.cwd(), {{"'", "'\\''"}});
  const std::string pull =
      state != nullptr ? ShellLine(SyncState(*state, "pull")) + " || exit $?; " : "";
  const std::string script = absl::StrCat(kInstance, pull, "cd '", dir, "' && exec \"$0\" \"$@\"");
  Struct env;
  for (const auto& [k, v] : e.env()) Set(&env, k, Str(v));
  Set(&env, "FLEET_ENGINE", Str(e.name()));
  if (state != nullptr) Set(&env, "FLEET_STATE_DIR", Str(kStateTree));
  Struct task = ShellTask(e.name(), script, argv, env);
  const std::string signal = e.stop().signal().empty() ? "TERM" : e.stop().signal();
  Set(&task, "KillSignal", Str(absl::StartsWith(signal, "SIG") ? signal : "SIG" + signal));
  Set(&task, "KillTimeout", Nanos(FromProto(e.stop().grace())));
  // Checks belong to a service: http and tcp natively (Nomad's own
  // service provider); files through fleetctl probe need Consul's script
  // checks.
  const v1::Health& h = e.health();
  const health::HealthPolicy policy = health::HealthPolicyFor(e);
  Value checks;
  checks.mutable_list_value();
  auto check = [&](const std::string& type) {
    Struct c;
    Set(&c, "Name", Str(absl::StrCat(e.name(), "-", type)));
    Set(&c, "Type", Str(type));
    Set(&c, "Interval", Nanos(policy.period));
    Set(&c, "Timeout", Nanos(policy.timeout));
    return c;
  };
  bool script_check = false;
  if (h.has_http()) {
    Struct c = check("http");
    Set(&c, "Path", Str(h.http().path().empty() ? "/" : h.http().path()));
    Set(&c, "PortLabel", Str(absl::StrCat(h.http().port())));
    *checks.mutable_list_value()->add_values() = Obj(c);
  }
  if (h.has_tcp()) {
    Struct c = check("tcp");
    Set(&c, "PortLabel", Str(absl::StrCat(h.tcp().port())));
    *checks.mutable_list_value()->add_values() = Obj(c);
  }
  std::vector<std::string> probe;
  if (!h.heartbeat_path().empty()) {
    probe = {"probe", "--file", h.heartbeat_path(), "--max-age",
             absl::FormatDuration(FromProto(h.heartbeat_max_age()))};
  }
  if (h.has_exec() || !probe.empty()) {
    Struct c = check("script");
    if (h.has_exec()) {
      Set(&c, "Command", Str(h.exec().command(0)));
      Set(&c, "Args", Strs({h.exec().command().begin() + 1, h.exec().command().end()}));
    } else {
      Set(&c, "Command", Str("fleetctl"));
      Set(&c, "Args", Strs(probe));
    }
    *checks.mutable_list_value()->add_values() = Obj(c);
    script_check = true;
  }
  if (h.has_log_max_age() || h.cpu_progress()) {
    lost->push_back({v1::Engine::kHealthFieldNumber,
                     "log freshness and CPU progress: no Nomad check judges them"});
  }
  if (checks.list_value().values_size() > 0) {
    Struct service;
    Set(&service, "Name", Str(KubernetesName("", e.name())));
    Set(&service, "Provider", Str(script_check ? "consul" : "nomad"));
    Set(&service, "Checks", checks);
    Value services;
    *services.mutable_list_value()->add_values() = Obj(service);
    Set(&task, "Services", services);
    lost->push_back({v1::Engine::kHealthFieldNumber,
                     "a failing check does not restart the task unless check_restart is added "
                     "(fleet restarts an unhealthy instance)"});
  }
  return task;
}

Struct Group(const v1::Engine& e, uint32_t count, bool batch, const v1::State* state,
             std::vector<Lost>* lost) {
  Struct group;
  Set(&group, "Name", Str(e.name()));
  Set(&group, "Count", Num(count));
  Struct restart;
  const bool never = e.restart() == v1::RESTART_POLICY_NEVER;
  Set(&restart, "Attempts", Num(never ? 0 : e.crash_loop().max_failures()));
  Set(&restart, "Interval", Nanos(FromProto(e.crash_loop().window())));
  Set(&restart, "Delay", Nanos(FromProto(e.backoff().initial())));
  Set(&restart, "Mode", Str("fail"));
  Set(&group, "RestartPolicy", Obj(restart));
  if (batch || never) {
    Struct reschedule;
    Set(&reschedule, "Attempts", Num(0));
    Set(&reschedule, "Unlimited", Flag(false));
    Set(&group, "ReschedulePolicy", Obj(reschedule));
  }
  Value tasks;
  *tasks.mutable_list_value()->add_values() = Obj(Task(e, state, lost));
  if (state != nullptr) {
    *tasks.mutable_list_value()->add_values() = Obj(SyncTask(e, *state, "pull"));
    *tasks.mutable_list_value()->add_values() = Obj(SyncTask(e, *state, "watch"));
  }
  Set(&group, "Tasks", tasks);
  return group;
}

std::string Json(const Struct& job) {
  Struct wrapper;
  Set(&wrapper, "Job", Obj(job));
  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = true;
  print.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(wrapper, &out, print);
  return out;
}

}  // namespace

absl::StatusOr<Exported> ExportNomad(const config::LoadedConfig& loaded,
                                     const NomadOptions& options) {
  const v1::FleetConfig& config = loaded.config;
  Exported out;
  Struct service_job;
  Set(&service_job, "ID", Str(KubernetesName(config.name(), "")));
  Set(&service_job, "Name", Str(config.name()));
  Set(&service_job, "Type", Str("service"));
  Set(&service_job, "Datacenters", Strs({"*"}));
  Value groups;
  groups.mutable_list_value();
  for (int index = 0; index < config.engines_size(); ++index) {
    const v1::Engine& e = config.engines(index);
    std::vector<Lost> lost;
    if (e.backoff().factor() > 1) {
      lost.push_back(
          {v1::Engine::kBackoffFieldNumber, "backoff growth: Nomad waits a fixed Delay"});
    }
    if (!e.kill_condition().empty() && e.type() != v1::ENGINE_TYPE_DAEMON) {
      lost.push_back({v1::Engine::kKillConditionFieldNumber,
                      "kill_condition stops the launch it holds in; later launches still run"});
    }
    const v1::State* state =
        e.state() && !config.state().remote().empty() ? &config.state() : nullptr;
    if (e.capabilities_size() > 0) {
      lost.push_back({v1::Engine::kCapabilitiesFieldNumber,
                      "capabilities: the work-bus is not exported to Nomad"});
    }
    if (e.depends_on_size() > 0) {
      lost.push_back(
          {v1::Engine::kDependsOnFieldNumber, "depends_on: Nomad does not order task groups"});
    }
    const bool scheduled =
        e.type() == v1::ENGINE_TYPE_CRON || e.type() == v1::ENGINE_TYPE_INTELLIGENCE;
    const uint32_t replicas = e.has_replicas() ? e.replicas() : 1;
    if (!scheduled) {
      if (e.has_cycle() && FromProto(e.cycle().interval()) > absl::ZeroDuration()) {
        lost.push_back({v1::Engine::kCycleFieldNumber,
                        "cycle: the task runs once per allocation; Nomad restarts it on exit"});
      }
      *groups.mutable_list_value()->add_values() =
          Obj(Group(e, replicas, /*batch=*/false, state, &lost));
    } else {
      absl::StatusOr<schedule::Schedule> parsed = schedule::Schedule::Parse(e.schedule());
      if (!parsed.ok()) return parsed.status();
      std::string spec = e.schedule();
      if (parsed->kind() == schedule::Schedule::Kind::kReboot) {
        return absl::FailedPreconditionError(absl::StrCat(
            loaded.path, ": engine ", e.name(), ": @reboot: no periodic job runs once per boot"));
      }
      if (parsed->kind() == schedule::Schedule::Kind::kEvery) {
        // A periodic job's launches are cron slots: whole minutes.
        const int64_t minutes =
            std::clamp<int64_t>(std::llround(absl::ToDoubleMinutes(parsed->every())), 1, 59);
        spec = minutes == 1 ? "* * * * *" : absl::StrCat("*/", minutes, " * * * *");
        const std::string what = absl::StrCat("schedule '", e.schedule(), "' runs as '", spec,
                                              "' (periodic launches are minutes of the clock)");
        if (!options.approximate) {
          return absl::FailedPreconditionError(
              absl::StrCat(loaded.path, ": engine ", e.name(), ": ", what,
                           ". Pass --approximate to export it so."));
        }
        lost.push_back({v1::Engine::kScheduleFieldNumber, "approximate: " + what});
      }
      Struct periodic;
      Set(&periodic, "Enabled", Flag(true));
      Set(&periodic, "SpecType", Str("cron"));
      Set(&periodic, "Spec", Str(spec));
      Set(&periodic, "ProhibitOverlap", Flag(e.overlap() != v1::OVERLAP_POLICY_REPLACE));
      if (e.overlap() == v1::OVERLAP_POLICY_QUEUE || e.overlap() == v1::OVERLAP_POLICY_REPLACE) {
        lost.push_back({v1::Engine::kOverlapFieldNumber,
                        "overlap: queue and replace: Nomad skips a launch while one runs"});
      }
      if (!e.timezone().empty()) Set(&periodic, "TimeZone", Str(e.timezone()));
      if (e.missed() == v1::MISSED_POLICY_RUN_ONCE) {
        lost.push_back({v1::Engine::kMissedFieldNumber,
                        "missed: run_once: Nomad does not run a launch missed while it was down"});
      }
      if (e.type() == v1::ENGINE_TYPE_INTELLIGENCE) {
        lost.push_back({v1::Engine::kTypeFieldNumber,
                        "intelligence: answer checks, judge, budget and rate limits"});
      }
      Struct job;
      Set(&job, "ID", Str(KubernetesName(config.name(), e.name())));
      Set(&job, "Name", Str(absl::StrCat(config.name(), "-", e.name())));
      Set(&job, "Type", Str("batch"));
      Set(&job, "Datacenters", Strs({"*"}));
      Set(&job, "Periodic", Obj(periodic));
      Value job_groups;
      *job_groups.mutable_list_value()->add_values() =
          Obj(Group(e, replicas, /*batch=*/true, state, &lost));
      Set(&job, "TaskGroups", job_groups);
      out.files.push_back({KubernetesName(config.name(), e.name()) + ".nomad.json", Json(job)});
    }
    (void)out.Warn(loaded, index, lost);
  }
  if (groups.list_value().values_size() > 0) {
    Set(&service_job, "TaskGroups", groups);
    out.files.insert(out.files.begin(),
                     {KubernetesName(config.name(), "") + ".nomad.json", Json(service_job)});
  }
  return out;
}

}  // namespace fleet::exporting
