#include "core/export/kubernetes.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/export/yaml_writer.h"
#include "core/health/policy.h"
#include "core/proto_time/proto_time.h"
#include "core/schedule/cron.h"

namespace fleet::exporting {
namespace {

namespace v1 = ::fleet::config::v1;

int64_t Seconds(absl::Duration d) {
  return static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(d)));
}

std::string Span(absl::Duration d) {
  return absl::FormatDuration(absl::Trunc(d, absl::Milliseconds(1)));
}

// One engine's objects and what did not carry over.
struct Engine {
  const v1::Engine& spec;
  std::string name;  // the Kubernetes name
  std::vector<std::string> lost;
};

Yaml Labels(const Engine& e, const std::string& fleet) {
  Yaml labels = Yaml::Map();
  labels.Set("app.kubernetes.io/name", Yaml::Str(e.name));
  labels.Set("app.kubernetes.io/part-of", Yaml::Str(KubernetesName(fleet, "")));
  labels.Set("app.kubernetes.io/managed-by", Yaml::Str("fleetctl-export"));
  return labels;
}

Yaml Metadata(const Engine& e, const std::string& fleet, const KubernetesOptions& options,
              bool with_labels = true) {
  Yaml meta = Yaml::Map();
  meta.Set("name", Yaml::Str(e.name));
  if (!options.namespace_.empty()) meta.Set("namespace", Yaml::Str(options.namespace_));
  if (with_labels) {
    Yaml labels = Labels(e, fleet);
    for (const std::string& cap : e.spec.capabilities()) {
      labels.Set("capability.fleet.dev/" + cap, Yaml::Str("true"));
    }
    meta.Set("labels", std::move(labels));
  }
  return meta;
}

// The probe handler for the engine's health block, or an empty map when
// none can be made; what is not checked goes to e->lost.
Yaml ProbeHandler(Engine* e) {
  const v1::Health& h = e->spec.health();
  std::vector<Yaml> handlers;
  if (h.has_exec() && h.exec().command_size() > 0) {
    Yaml exec = Yaml::Map();
    exec.Set("command", Yaml::Strings({h.exec().command().begin(), h.exec().command().end()}));
    Yaml handler = Yaml::Map();
    handler.Set("exec", std::move(exec));
    handlers.push_back(std::move(handler));
  }
  if (h.has_http()) {
    Yaml get = Yaml::Map();
    get.Set("path", Yaml::Str(h.http().path().empty() ? "/" : h.http().path()));
    get.Set("port", Yaml::Int(h.http().port()));
    Yaml handler = Yaml::Map();
    handler.Set("httpGet", std::move(get));
    handlers.push_back(std::move(handler));
  }
  if (h.has_tcp()) {
    Yaml socket = Yaml::Map();
    socket.Set("port", Yaml::Int(h.tcp().port()));
    Yaml handler = Yaml::Map();
    handler.Set("tcpSocket", std::move(socket));
    handlers.push_back(std::move(handler));
  }
  // Files the worker writes: fleet's own judge, `fleetctl probe`, in the image.
  std::vector<std::string> files;
  if (!h.heartbeat_path().empty()) {
    files.insert(files.end(), {"--file", h.heartbeat_path(), "--max-age",
                               Span(FromProto(h.heartbeat_max_age()))});
  }
  if (h.has_log_max_age()) {
    if (h.log_path().empty()) {
      e->lost.push_back(
          "log freshness on the captured output: a probe cannot see the container's stdout "
          "(declare health.log_path to have it checked)");
    } else {
      files.insert(files.end(),
                   {"--file", h.log_path(), "--max-age", Span(FromProto(h.log_max_age()))});
    }
  }
  if (!files.empty()) {
    std::vector<std::string> command = {"fleetctl", "probe"};
    command.insert(command.end(), files.begin(), files.end());
    Yaml exec = Yaml::Map();
    exec.Set("command", Yaml::Strings(command));
    Yaml handler = Yaml::Map();
    handler.Set("exec", std::move(exec));
    handlers.push_back(std::move(handler));
  }
  if (h.cpu_progress()) e->lost.push_back("health.cpu_progress: no probe judges CPU use");
  if (handlers.size() > 1) {
    e->lost.push_back(absl::StrCat("a probe has one check: the first of the engine's ",
                                   handlers.size(), " (exec, http, tcp, files) is used"));
  }
  return handlers.empty() ? Yaml::Map() : std::move(handlers.front());
}

Yaml Container(Engine* e, const KubernetesOptions& options, bool ordinal) {
  const v1::Engine& s = e->spec;
  Yaml c = Yaml::Map();
  c.Set("name", Yaml::Str(e->name));
  c.Set("image", Yaml::Str(options.image));
  std::vector<std::string> argv;
  if (!s.shell().empty()) {
    argv = {"/bin/sh", "-c", s.shell()};
  } else {
    argv.assign(s.command().begin(), s.command().end());
  }
  const bool cycle = s.type() == v1::ENGINE_TYPE_DAEMON && s.has_cycle() &&
                     FromProto(s.cycle().interval()) > absl::ZeroDuration();
  if (ordinal || cycle) {
    // FLEET_INSTANCE from the pod's ordinal (NAME-3 -> 3); a cycle engine
    // runs again after its interval (a container that exits 0 is not done).
    std::string script = ordinal ? "export FLEET_INSTANCE=\"${HOSTNAME##*-}\"; " : "";
    if (cycle) {
      absl::StrAppend(&script, "while :; do \"$0\" \"$@\" || exit $?; sleep ",
                      Seconds(FromProto(s.cycle().interval())), "; done");
    } else {
      absl::StrAppend(&script, "exec \"$0\" \"$@\"");
    }
    argv.insert(argv.begin(), {"/bin/sh", "-c", script});
  }
  c.Set("command", Yaml::Strings(argv));
  if (!s.cwd().empty()) c.Set("workingDir", Yaml::Str(s.cwd()));
  Yaml env = Yaml::List();
  auto set_env = [&env](const std::string& name, const std::string& value) {
    Yaml var = Yaml::Map();
    var.Set("name", Yaml::Str(name));
    var.Set("value", Yaml::Str(value));
    env.Add(std::move(var));
  };
  for (const auto& [k, v] : std::map<std::string, std::string>(s.env().begin(), s.env().end())) {
    set_env(k, v);
  }
  set_env("FLEET_ENGINE", s.name());
  if (!ordinal) set_env("FLEET_INSTANCE", "0");
  c.Set("env", std::move(env));
  Yaml handler = ProbeHandler(e);
  if (!handler.empty()) {
    const health::HealthPolicy policy = health::HealthPolicyFor(s);
    Yaml probe = std::move(handler);
    probe.Set("periodSeconds", Yaml::Int(std::max<int64_t>(1, Seconds(policy.period))));
    probe.Set("timeoutSeconds", Yaml::Int(std::max<int64_t>(1, Seconds(policy.timeout))));
    probe.Set("failureThreshold", Yaml::Int(std::max<uint32_t>(1, policy.failure_threshold)));
    if (policy.startup_grace > absl::ZeroDuration()) {
      Yaml startup = probe;
      startup.Set("failureThreshold", Yaml::Int(std::max<int64_t>(
                                          1, Seconds(policy.startup_grace) /
                                                 std::max<int64_t>(1, Seconds(policy.period)))));
      c.Set("startupProbe", std::move(startup));
    } else if (policy.initial_delay > absl::ZeroDuration()) {
      probe.Set("initialDelaySeconds", Yaml::Int(Seconds(policy.initial_delay)));
    }
    c.Set("livenessProbe", std::move(probe));
  }
  return c;
}

Yaml PodSpec(Engine* e, const KubernetesOptions& options, bool ordinal, const char* restart) {
  Yaml pod = Yaml::Map();
  Yaml containers = Yaml::List();
  containers.Add(Container(e, options, ordinal));
  pod.Set("containers", std::move(containers));
  pod.Set("restartPolicy", Yaml::Str(restart));
  pod.Set("terminationGracePeriodSeconds", Yaml::Int(Seconds(FromProto(e->spec.stop().grace()))));
  return pod;
}

// What no object expresses, whatever the kind.
void NotCarriedOver(Engine* e) {
  const v1::Engine& s = e->spec;
  if (s.backoff().factor() > 1) {
    e->lost.push_back("backoff: Kubernetes' own (10s doubling to 5m) replaces fleet's");
  }
  if (!s.kill_condition().empty()) {
    e->lost.push_back("kill_condition '" + s.kill_condition() + "': not evaluated");
  }
  if (s.state()) {
    e->lost.push_back(
        "state: true: the Git sync of a work tree is not exported yet (mount one "
        "volume per pod and sync it yourself)");
  }
  if (s.capabilities_size() > 0) {
    e->lost.push_back(
        "capabilities are labels; the work-bus (its run dir on a shared volume "
        "and the conductor) is not exported yet");
  }
  if (s.depends_on_size() > 0) e->lost.push_back("depends_on: Kubernetes does not order starts");
  if (s.type() == v1::ENGINE_TYPE_INTELLIGENCE) {
    e->lost.push_back("intelligence: answer checks, judge, budget and rate limits are not applied");
  }
  if (FromProto(s.jitter()) > absl::ZeroDuration()) e->lost.push_back("jitter: not applied");
}

}  // namespace

std::string KubernetesName(const std::string& fleet, const std::string& engine) {
  std::string raw = engine.empty() ? fleet : absl::StrCat(fleet, "-", engine);
  std::string name;
  for (char c : absl::AsciiStrToLower(raw)) {
    name += absl::ascii_isalnum(static_cast<unsigned char>(c)) ? c : '-';
  }
  while (!name.empty() && name.front() == '-') name.erase(name.begin());
  if (name.size() > 52) name.resize(52);
  while (!name.empty() && name.back() == '-') name.pop_back();
  return name.empty() ? "fleet" : name;
}

absl::StatusOr<Exported> ExportKubernetes(const config::LoadedConfig& loaded,
                                          const KubernetesOptions& options) {
  if (options.image.empty()) {
    return absl::InvalidArgumentError(
        "--image IMAGE is required: the image with the workload and fleet's binaries "
        "(contrib/docker/Dockerfile shows one)");
  }
  const v1::FleetConfig& config = loaded.config;
  Exported out;
  std::set<std::string> names;
  for (const v1::Engine& spec : config.engines()) {
    Engine e{spec, KubernetesName(config.name(), spec.name()), {}};
    if (!names.insert(e.name).second) {
      return absl::InvalidArgumentError(absl::StrCat(loaded.path, ": engine ", spec.name(),
                                                     " becomes the Kubernetes name ", e.name,
                                                     ", which another engine has already"));
    }
    NotCarriedOver(&e);
    const bool scheduled =
        spec.type() == v1::ENGINE_TYPE_CRON || spec.type() == v1::ENGINE_TYPE_INTELLIGENCE;
    const uint32_t replicas = spec.has_replicas() ? spec.replicas() : 1;
    std::vector<std::pair<std::string, Yaml>> objects;  // file name, object
    if (scheduled) {
      absl::StatusOr<schedule::Schedule> parsed = schedule::Schedule::Parse(spec.schedule());
      if (!parsed.ok()) return parsed.status();
      std::string cron_schedule = spec.schedule();
      if (parsed->kind() == schedule::Schedule::Kind::kReboot) {
        return absl::FailedPreconditionError(
            absl::StrCat(loaded.path, ": engine ", spec.name(),
                         ": @reboot: no CronJob runs once per boot of a node"));
      }
      if (parsed->kind() == schedule::Schedule::Kind::kEvery) {
        // A CronJob's slots are whole minutes of the wall clock.
        const int64_t minutes =
            std::clamp<int64_t>(std::llround(absl::ToDoubleMinutes(parsed->every())), 1, 59);
        cron_schedule = minutes == 1 ? "* * * * *" : absl::StrCat("*/", minutes, " * * * *");
        const std::string what =
            absl::StrCat("schedule '", spec.schedule(), "' runs as '", cron_schedule,
                         "' (a CronJob's slots are minutes of the wall clock)");
        if (!options.approximate) {
          return absl::FailedPreconditionError(
              absl::StrCat(loaded.path, ": engine ", spec.name(), ": ", what,
                           ". Pass --approximate to export it so."));
        }
        e.lost.push_back("approximate: " + what);
      }
      if (replicas > 1) {
        e.lost.push_back(
            absl::StrCat("replicas: ", replicas, ": one CronJob runs one Job per slot"));
      }
      Yaml cron = Yaml::Map();
      cron.Set("apiVersion", Yaml::Str("batch/v1"));
      cron.Set("kind", Yaml::Str("CronJob"));
      cron.Set("metadata", Metadata(e, config.name(), options));
      Yaml& s = cron["spec"];
      s.Set("schedule", Yaml::Str(cron_schedule));
      if (!spec.timezone().empty()) s.Set("timeZone", Yaml::Str(spec.timezone()));
      const char* concurrency = "Forbid";
      if (spec.overlap() == v1::OVERLAP_POLICY_REPLACE) concurrency = "Replace";
      if (spec.overlap() == v1::OVERLAP_POLICY_QUEUE) {
        e.lost.push_back(
            "overlap: queue: a slot while a run goes on is skipped (Forbid), not "
            "queued");
      }
      s.Set("concurrencyPolicy", Yaml::Str(concurrency));
      // missed: skip runs a slot only on time; run_once catches up once.
      if (spec.missed() == v1::MISSED_POLICY_SKIP) s.Set("startingDeadlineSeconds", Yaml::Int(60));
      Yaml& job = s["jobTemplate"]["spec"];
      job.Set("backoffLimit",
              Yaml::Int(spec.restart() == v1::RESTART_POLICY_NEVER
                            ? 0
                            : std::max<uint32_t>(1, spec.crash_loop().max_failures())));
      if (FromProto(spec.timeout()) > absl::ZeroDuration()) {
        job.Set("activeDeadlineSeconds", Yaml::Int(Seconds(FromProto(spec.timeout()))));
      }
      Yaml& pod = job["template"];
      pod["metadata"].Set("labels", Labels(e, config.name()));
      pod.Set("spec", PodSpec(&e, options, /*ordinal=*/false, "Never"));
      objects.emplace_back(e.name + ".cronjob.yaml", std::move(cron));
    } else {
      // Several replicas (or a work tree each): a StatefulSet, whose pods
      // keep their ordinal as FLEET_INSTANCE; one: a Deployment.
      const bool stateful = replicas > 1 || spec.state();
      if (spec.restart() != v1::RESTART_POLICY_ALWAYS) {
        e.lost.push_back("restart: a Deployment's or StatefulSet's pod is always restarted");
      }
      if (spec.has_cycle() && FromProto(spec.cycle().timeout()) > absl::ZeroDuration()) {
        e.lost.push_back("cycle.timeout: a cycle's run is not stopped");
      }
      Yaml object = Yaml::Map();
      object.Set("apiVersion", Yaml::Str("apps/v1"));
      object.Set("kind", Yaml::Str(stateful ? "StatefulSet" : "Deployment"));
      object.Set("metadata", Metadata(e, config.name(), options));
      Yaml& s = object["spec"];
      s.Set("replicas", Yaml::Int(replicas));
      if (stateful) {
        s.Set("serviceName", Yaml::Str(e.name));
        s.Set("podManagementPolicy", Yaml::Str("Parallel"));  // fleet starts them all at once
      }
      s["selector"].Set("matchLabels", Labels(e, config.name()));
      Yaml& pod = s["template"];
      pod["metadata"].Set("labels", Labels(e, config.name()));
      pod.Set("spec", PodSpec(&e, options, stateful, "Always"));
      objects.emplace_back(e.name + (stateful ? ".statefulset.yaml" : ".deployment.yaml"),
                           std::move(object));
      if (stateful) {
        // A StatefulSet's governing Service: headless, for the pods' names.
        Yaml service = Yaml::Map();
        service.Set("apiVersion", Yaml::Str("v1"));
        service.Set("kind", Yaml::Str("Service"));
        service.Set("metadata", Metadata(e, config.name(), options));
        Yaml& ss = service["spec"];
        ss.Set("clusterIP", Yaml::Str("None"));
        ss.Set("selector", Labels(e, config.name()));
        objects.emplace_back(e.name + ".service.yaml", std::move(service));
      }
    }
    std::string header = absl::StrCat("# Engine ", spec.name(), " of fleet ", config.name(), " (",
                                      loaded.path, "), by `fleetctl export kubernetes`.\n");
    for (const std::string& what : e.lost) {
      absl::StrAppend(&header, "# Not carried over: ", what, "\n");
      out.warnings.push_back(absl::StrCat("engine ", spec.name(), ": ", what));
    }
    for (auto& [file, object] : objects) out.files.push_back({file, header + object.Write()});
  }
  return out;
}

}  // namespace fleet::exporting
