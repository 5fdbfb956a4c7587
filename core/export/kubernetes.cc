#include "core/export/kubernetes.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/export/fleet_commands.h"
#include "core/export/kubernetes_pod.h"
#include "core/export/yaml_writer.h"
#include "core/proto_time/proto_time.h"
#include "core/schedule/cron.h"

namespace fleet::exporting {
namespace {

namespace v1 = ::fleet::config::v1;

using k8s::Engine;

Yaml Labels(const std::string& name, const std::string& fleet) {
  Yaml labels = Yaml::Map();
  labels.Set("app.kubernetes.io/name", Yaml::Str(name));
  labels.Set("app.kubernetes.io/part-of", Yaml::Str(fleet));
  labels.Set("app.kubernetes.io/managed-by", Yaml::Str("fleetctl-export"));
  return labels;
}

Yaml Metadata(const std::string& name, const std::string& fleet, const KubernetesOptions& options,
              const v1::Engine* engine = nullptr) {
  Yaml meta = Yaml::Map();
  meta.Set("name", Yaml::Str(name));
  if (!options.namespace_.empty()) meta.Set("namespace", Yaml::Str(options.namespace_));
  Yaml labels = Labels(name, fleet);
  if (engine != nullptr) {
    for (const std::string& cap : engine->capabilities()) {
      labels.Set("capability.fleet.dev/" + cap, Yaml::Str("true"));
    }
  }
  meta.Set("labels", std::move(labels));
  return meta;
}

// What no object expresses, whatever the kind.
void NotCarriedOver(Engine* e) {
  const v1::Engine& s = e->spec();
  const v1::FleetConfig& config = e->loaded.config;
  if (s.backoff().factor() > 1) {
    e->Lose(v1::Engine::kBackoffFieldNumber,
            "backoff: Kubernetes' own (10s doubling to 5m) replaces fleet's");
  }
  const bool scheduled =
      s.type() == v1::ENGINE_TYPE_CRON || s.type() == v1::ENGINE_TYPE_INTELLIGENCE;
  if (!s.kill_condition().empty() && scheduled) {
    e->Lose(v1::Engine::kKillConditionFieldNumber,
            "kill_condition stops the run it holds in; the CronJob's later runs still start "
            "(suspend it: kubectl patch cronjob ... -p '{\"spec\":{\"suspend\":true}}')");
  }
  if (e->state()) {
    const std::string& remote = config.state().remote();
    if (remote.find("://") == std::string::npos && remote.find(':') == std::string::npos) {
      e->Lose(v1::Engine::kStateFieldNumber,
              absl::StrCat("state.remote ", remote,
                           " is a path on this machine: pods reach it only on a volume they "
                           "mount there (give the state a URL)"));
    }
    if (config.recovery().protect_size() > 0) {
      e->Lose(v1::Engine::kStateFieldNumber,
              "recovery.protect: state files are not validated before a commit");
    }
  }
  if (s.depends_on_size() > 0) {
    e->Lose(v1::Engine::kDependsOnFieldNumber, "depends_on: Kubernetes does not order starts");
  }
  if (s.type() == v1::ENGINE_TYPE_INTELLIGENCE) {
    e->Lose(v1::Engine::kTypeFieldNumber,
            "intelligence: answer checks, judge, budget and rate limits are not applied");
  }
  if (FromProto(s.jitter()) > absl::ZeroDuration()) {
    e->Lose(v1::Engine::kJitterFieldNumber, "jitter: not applied");
  }
}

// The work-bus: its directory on a ReadWriteMany volume every worker pod
// mounts, and one conductor (a fleetd running no engine, offering the
// fleet's capabilities to the pods) as a Deployment of one.
void BusObjects(const std::string& fleet, const std::set<std::string>& capabilities,
                const KubernetesOptions& options, Exported* out) {
  const std::string header =
      absl::StrCat("# The work-bus of fleet ", fleet, ", by `fleetctl export kubernetes`.\n");
  Yaml claim = Yaml::Map();
  claim.Set("apiVersion", Yaml::Str("v1"));
  claim.Set("kind", Yaml::Str("PersistentVolumeClaim"));
  claim.Set("metadata", Metadata(k8s::BusClaimName(fleet), fleet, options));
  claim["spec"].Set("accessModes", Yaml::Strings({"ReadWriteMany"}));
  claim["spec"]["resources"]["requests"].Set("storage", Yaml::Str(options.bus_storage));
  out->files.push_back({k8s::BusClaimName(fleet) + ".persistentvolumeclaim.yaml",
                        header +
                            "# Its storage class must give ReadWriteMany with atomic renames "
                            "and flock across nodes (NFSv4, CephFS).\n" +
                            claim.Write()});

  const std::string conductor = fleet + "-conductor";
  Yaml file = Yaml::Map();
  file.Set("name", Yaml::Str(conductor));
  file.Set("run_dir", Yaml::Str(k8s::kRunDir));
  file["bus"].Set("external_capabilities",
                  Yaml::Strings({capabilities.begin(), capabilities.end()}));
  Yaml map = Yaml::Map();
  map.Set("apiVersion", Yaml::Str("v1"));
  map.Set("kind", Yaml::Str("ConfigMap"));
  map.Set("metadata", Metadata(conductor, fleet, options));
  map["data"].Set("fleet.yaml", Yaml::Str(file.Write()));
  out->files.push_back({conductor + ".configmap.yaml", header + map.Write()});

  Yaml deployment = Yaml::Map();
  deployment.Set("apiVersion", Yaml::Str("apps/v1"));
  deployment.Set("kind", Yaml::Str("Deployment"));
  deployment.Set("metadata", Metadata(conductor, fleet, options));
  Yaml& s = deployment["spec"];
  s.Set("replicas", Yaml::Int(1));
  s["strategy"].Set("type", Yaml::Str("Recreate"));  // Never two at once.
  s["selector"].Set("matchLabels", Labels(conductor, fleet));
  Yaml& pod = s["template"];
  pod["metadata"].Set("labels", Labels(conductor, fleet));
  Yaml c = Yaml::Map();
  c.Set("name", Yaml::Str("conductor"));
  c.Set("image", Yaml::Str(options.image));
  c.Set("command", Yaml::Strings({"fleetd", "--config", "/etc/fleet/fleet.yaml"}));
  Yaml mounts = Yaml::List();
  auto mount = [&mounts](const char* name, const char* path, bool read_only) {
    Yaml m = Yaml::Map();
    m.Set("name", Yaml::Str(name));
    m.Set("mountPath", Yaml::Str(path));
    if (read_only) m.Set("readOnly", Yaml::Bool(true));
    mounts.Add(std::move(m));
  };
  mount("config", "/etc/fleet", true);
  mount("fleet-bus", k8s::kSharedMount, false);
  c.Set("volumeMounts", std::move(mounts));
  Yaml containers = Yaml::List();
  containers.Add(std::move(c));
  Yaml& spec = pod["spec"];
  spec.Set("containers", std::move(containers));
  Yaml volumes = Yaml::List();
  Yaml config = Yaml::Map();
  config.Set("name", Yaml::Str("config"));
  config["configMap"].Set("name", Yaml::Str(conductor));
  volumes.Add(std::move(config));
  Yaml bus = Yaml::Map();
  bus.Set("name", Yaml::Str("fleet-bus"));
  bus["persistentVolumeClaim"].Set("claimName", Yaml::Str(k8s::BusClaimName(fleet)));
  volumes.Add(std::move(bus));
  spec.Set("volumes", std::move(volumes));
  out->files.push_back(
      {conductor + ".deployment.yaml", header + "# Submit runs with: kubectl exec -i deploy/" +
                                           conductor + " -- fleetctl --run-dir " + k8s::kRunDir +
                                           " bus submit - < goal.yaml\n" + deployment.Write()});
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
  const std::string fleet = KubernetesName(config.name(), "");
  Exported out;
  std::set<std::string> names, capabilities;
  for (int index = 0; index < config.engines_size(); ++index) {
    const v1::Engine& spec = config.engines(index);
    const bool scheduled =
        spec.type() == v1::ENGINE_TYPE_CRON || spec.type() == v1::ENGINE_TYPE_INTELLIGENCE;
    const uint32_t replicas = spec.has_replicas() ? spec.replicas() : 1;
    // Several replicas, a work tree or a bus worker's name each: a
    // StatefulSet, whose pods keep their ordinal as FLEET_INSTANCE.
    const bool stateful =
        !scheduled && (replicas > 1 || spec.state() || spec.capabilities_size() > 0);
    Engine e{loaded, index, KubernetesName(config.name(), spec.name()), fleet, stateful, {}};
    capabilities.insert(spec.capabilities().begin(), spec.capabilities().end());
    if (!names.insert(e.name).second) {
      return absl::InvalidArgumentError(absl::StrCat(loaded.path, ": engine ", spec.name(),
                                                     " becomes the Kubernetes name ", e.name,
                                                     ", which another engine has already"));
    }
    NotCarriedOver(&e);
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
        e.Lose(v1::Engine::kScheduleFieldNumber, "approximate: " + what);
      }
      if (replicas > 1) {
        e.Lose(v1::Engine::kReplicasFieldNumber,
               absl::StrCat("replicas: ", replicas, ": one CronJob runs one Job per slot"));
      }
      Yaml cron = Yaml::Map();
      cron.Set("apiVersion", Yaml::Str("batch/v1"));
      cron.Set("kind", Yaml::Str("CronJob"));
      cron.Set("metadata", Metadata(e.name, fleet, options, &spec));
      Yaml& s = cron["spec"];
      s.Set("schedule", Yaml::Str(cron_schedule));
      if (!spec.timezone().empty()) s.Set("timeZone", Yaml::Str(spec.timezone()));
      const char* concurrency = "Forbid";
      if (spec.overlap() == v1::OVERLAP_POLICY_REPLACE) concurrency = "Replace";
      if (spec.overlap() == v1::OVERLAP_POLICY_QUEUE) {
        e.Lose(v1::Engine::kOverlapFieldNumber,
               "overlap: queue: a slot while a run goes on is skipped (Forbid), not queued");
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
        job.Set("activeDeadlineSeconds", Yaml::Int(WholeSeconds(FromProto(spec.timeout()))));
      }
      Yaml& pod = job["template"];
      pod["metadata"].Set("labels", Labels(e.name, fleet));
      pod.Set("spec", k8s::PodSpec(&e, options, "Never"));
      objects.emplace_back(e.name + ".cronjob.yaml", std::move(cron));
    } else {
      if (spec.restart() != v1::RESTART_POLICY_ALWAYS) {
        e.Lose(v1::Engine::kRestartFieldNumber,
               "restart: a Deployment's or StatefulSet's pod is always restarted");
      }
      if (spec.has_cycle() && FromProto(spec.cycle().timeout()) > absl::ZeroDuration()) {
        e.Lose(v1::Engine::kCycleFieldNumber, "cycle.timeout: a cycle's run is not stopped");
      }
      Yaml object = Yaml::Map();
      object.Set("apiVersion", Yaml::Str("apps/v1"));
      object.Set("kind", Yaml::Str(stateful ? "StatefulSet" : "Deployment"));
      object.Set("metadata", Metadata(e.name, fleet, options, &spec));
      Yaml& s = object["spec"];
      s.Set("replicas", Yaml::Int(replicas));
      if (stateful) {
        s.Set("serviceName", Yaml::Str(e.name));
        s.Set("podManagementPolicy", Yaml::Str("Parallel"));  // fleet starts them all at once
      }
      s["selector"].Set("matchLabels", Labels(e.name, fleet));
      Yaml& pod = s["template"];
      pod["metadata"].Set("labels", Labels(e.name, fleet));
      pod.Set("spec", k8s::PodSpec(&e, options, "Always"));
      objects.emplace_back(e.name + (stateful ? ".statefulset.yaml" : ".deployment.yaml"),
                           std::move(object));
      if (stateful) {
        // A StatefulSet's governing Service: headless, for the pods' names.
        Yaml service = Yaml::Map();
        service.Set("apiVersion", Yaml::Str("v1"));
        service.Set("kind", Yaml::Str("Service"));
        service.Set("metadata", Metadata(e.name, fleet, options, &spec));
        Yaml& ss = service["spec"];
        ss.Set("clusterIP", Yaml::Str("None"));
        ss.Set("selector", Labels(e.name, fleet));
        objects.emplace_back(e.name + ".service.yaml", std::move(service));
      }
    }
    std::string header = absl::StrCat("# Engine ", spec.name(), " of fleet ", config.name(), " (",
                                      loaded.path, "), by `fleetctl export kubernetes`.\n");
    header += out.Warn(loaded, index, e.lost);
    for (auto& [file, object] : objects) out.files.push_back({file, header + object.Write()});
  }
  if (!capabilities.empty()) BusObjects(fleet, capabilities, options, &out);
  return out;
}

}  // namespace fleet::exporting
