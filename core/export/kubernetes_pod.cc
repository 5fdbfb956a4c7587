#include "core/export/kubernetes_pod.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "core/export/fleet_commands.h"
#include "core/health/policy.h"
#include "core/proto_time/proto_time.h"

namespace fleet::exporting::k8s {
namespace {

namespace v1 = ::fleet::config::v1;

std::string Span(absl::Duration d) {
  return absl::FormatDuration(absl::Trunc(d, absl::Milliseconds(1)));
}

// The script that makes FLEET_INSTANCE the pod's ordinal (NAME-3 -> 3).
constexpr char kOrdinal[] = "export FLEET_INSTANCE=\"${HOSTNAME##*-}\"; ";

// The probe handler for the engine's health block, or an empty map when
// none can be made; what is not checked goes to e->lost.
Yaml ProbeHandler(Engine* e) {
  const v1::Health& h = e->spec().health();
  constexpr int kHealth = v1::Engine::kHealthFieldNumber;
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
      e->Lose(kHealth,
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
  if (h.cpu_progress()) e->Lose(kHealth, "health.cpu_progress: no probe judges CPU use");
  if (handlers.size() > 1) {
    e->Lose(kHealth, absl::StrCat("a probe has one check: the first of the engine's ",
                                  handlers.size(), " (exec, http, tcp, files) is used"));
  }
  return handlers.empty() ? Yaml::Map() : std::move(handlers.front());
}

// `fleetd sync-state OP ...` for the engine's work tree, as the state
// module would call the sync plugin.
std::vector<std::string> SyncState(const Engine& e, const std::string& op) {
  return SyncStateArgv("fleetd", e.loaded.config.state(), op, kStateTree);
}

Yaml EnvVar(const std::string& name, const std::string& value) {
  Yaml var = Yaml::Map();
  var.Set("name", Yaml::Str(name));
  var.Set("value", Yaml::Str(value));
  return var;
}

Yaml Mount(const std::string& volume, const std::string& path) {
  Yaml mount = Yaml::Map();
  mount.Set("name", Yaml::Str(volume));
  mount.Set("mountPath", Yaml::Str(path));
  return mount;
}

// The init container (pull) or sidecar (watch) of an engine with state.
Yaml SyncContainer(const Engine& e, const KubernetesOptions& options, const std::string& op) {
  Yaml c = Yaml::Map();
  c.Set("name", Yaml::Str(op == "pull" ? "state-pull" : "state-sync"));
  c.Set("image", Yaml::Str(options.image));
  std::vector<std::string> argv = SyncState(e, op);
  // The author is ENGINE/N, as the worker's own commits are.
  if (e.ordinal)
    argv.insert(argv.begin(), {"/bin/sh", "-c", absl::StrCat(kOrdinal, "exec \"$0\" \"$@\"")});
  c.Set("command", Yaml::Strings(argv));
  Yaml env = Yaml::List();
  env.Add(EnvVar("FLEET_ENGINE", e.spec().name()));
  if (!e.ordinal) env.Add(EnvVar("FLEET_INSTANCE", "0"));
  c.Set("env", std::move(env));
  Yaml mounts = Yaml::List();
  mounts.Add(Mount("fleet-state", kStateMount));
  c.Set("volumeMounts", std::move(mounts));
  // A native sidecar (Kubernetes 1.29+): started before the worker,
  // stopped after it, so its last publish carries the worker's last write.
  if (op == "watch") c.Set("restartPolicy", Yaml::Str("Always"));
  return c;
}

Yaml Container(Engine* e, const KubernetesOptions& options) {
  const v1::Engine& s = e->spec();
  Yaml c = Yaml::Map();
  c.Set("name", Yaml::Str(e->name));
  c.Set("image", Yaml::Str(options.image));
  std::vector<std::string> argv;
  if (!s.shell().empty()) {
    argv = {"/bin/sh", "-c", s.shell()};
  } else {
    argv.assign(s.command().begin(), s.command().end());
  }
  if (!s.kill_condition().empty()) {
    // fleet's own judge around the worker: it must see the worker's
    // metrics file and output, so it runs in the worker's container.
    const std::vector<std::string> watch = KillWatchArgv("fleetd", s, kKillMarker);
    argv.insert(argv.begin(), watch.begin(), watch.end());
  }
  const bool cycle = s.type() == v1::ENGINE_TYPE_DAEMON && s.has_cycle() &&
                     FromProto(s.cycle().interval()) > absl::ZeroDuration();
  if (e->ordinal || cycle || e->state()) {
    // FLEET_INSTANCE from the ordinal; the state pulled before each start
    // (and each cycle), published after each cycle; a cycle engine runs
    // again after its interval (a container that exits 0 is not done).
    std::string script = e->ordinal ? kOrdinal : "";
    const std::string pull = e->state() ? ShellLine(SyncState(*e, "pull")) + " || exit $?; " : "";
    absl::StrAppend(&script, pull);
    if (cycle) {
      absl::StrAppend(&script, "while :; do \"$0\" \"$@\" || exit $?; ",
                      e->state() ? ShellLine(SyncState(*e, "publish")) + "; " : "", "sleep ",
                      WholeSeconds(FromProto(s.cycle().interval())), "; ", pull, "done");
    } else {
      absl::StrAppend(&script, "exec \"$0\" \"$@\"");
    }
    argv.insert(argv.begin(), {"/bin/sh", "-c", script});
  }
  c.Set("command", Yaml::Strings(argv));
  if (!s.cwd().empty()) c.Set("workingDir", Yaml::Str(s.cwd()));
  Yaml env = Yaml::List();
  for (const auto& [k, v] : std::map<std::string, std::string>(s.env().begin(), s.env().end())) {
    env.Add(EnvVar(k, v));
  }
  env.Add(EnvVar("FLEET_ENGINE", s.name()));
  if (!e->ordinal) env.Add(EnvVar("FLEET_INSTANCE", "0"));
  if (e->state()) env.Add(EnvVar("FLEET_STATE_DIR", kStateTree));
  if (e->bus()) env.Add(EnvVar("FLEET_RUN_DIR", kRunDir));
  c.Set("env", std::move(env));
  Yaml mounts = Yaml::List();
  if (e->state()) mounts.Add(Mount("fleet-state", kStateMount));
  if (!s.kill_condition().empty()) mounts.Add(Mount("fleet-kill", kKillMount));
  if (e->bus()) mounts.Add(Mount("fleet-bus", kSharedMount));
  if (!mounts.empty()) c.Set("volumeMounts", std::move(mounts));
  Yaml handler = ProbeHandler(e);
  if (!handler.empty()) {
    const health::HealthPolicy policy = health::HealthPolicyFor(s);
    Yaml probe = std::move(handler);
    probe.Set("periodSeconds", Yaml::Int(std::max<int64_t>(1, WholeSeconds(policy.period))));
    probe.Set("timeoutSeconds", Yaml::Int(std::max<int64_t>(1, WholeSeconds(policy.timeout))));
    probe.Set("failureThreshold", Yaml::Int(std::max<uint32_t>(1, policy.failure_threshold)));
    if (policy.startup_grace > absl::ZeroDuration()) {
      Yaml startup = probe;
      startup.Set(
          "failureThreshold",
          Yaml::Int(std::max<int64_t>(1, WholeSeconds(policy.startup_grace) /
                                             std::max<int64_t>(1, WholeSeconds(policy.period)))));
      c.Set("startupProbe", std::move(startup));
    } else if (policy.initial_delay > absl::ZeroDuration()) {
      probe.Set("initialDelaySeconds", Yaml::Int(WholeSeconds(policy.initial_delay)));
    }
    c.Set("livenessProbe", std::move(probe));
  }
  return c;
}

}  // namespace

std::string BusClaimName(const std::string& fleet) { return fleet + "-bus"; }

Yaml PodSpec(Engine* e, const KubernetesOptions& options, const char* restart) {
  const v1::Engine& s = e->spec();
  Yaml pod = Yaml::Map();
  if (e->state()) {
    Yaml init = Yaml::List();
    init.Add(SyncContainer(*e, options, "pull"));
    init.Add(SyncContainer(*e, options, "watch"));
    pod.Set("initContainers", std::move(init));
  }
  Yaml containers = Yaml::List();
  containers.Add(Container(e, options));
  pod.Set("containers", std::move(containers));
  pod.Set("restartPolicy", Yaml::Str(restart));
  // The worker's stop, then (with state) the sidecar's last publish.
  int64_t grace = WholeSeconds(FromProto(s.stop().grace()));
  if (e->state()) grace += WholeSeconds(FromProto(e->loaded.config.state().network_timeout())) + 5;
  pod.Set("terminationGracePeriodSeconds", Yaml::Int(grace));
  Yaml volumes = Yaml::List();
  auto empty_dir = [&volumes](const char* name) {
    Yaml v = Yaml::Map();
    v.Set("name", Yaml::Str(name));
    v.Set("emptyDir", Yaml::Map());
    volumes.Add(std::move(v));
  };
  if (e->state()) empty_dir("fleet-state");
  if (!s.kill_condition().empty()) empty_dir("fleet-kill");
  if (e->bus()) {
    Yaml v = Yaml::Map();
    v.Set("name", Yaml::Str("fleet-bus"));
    v["persistentVolumeClaim"].Set("claimName", Yaml::Str(BusClaimName(e->fleet)));
    volumes.Add(std::move(v));
  }
  if (!volumes.empty()) pod.Set("volumes", std::move(volumes));
  return pod;
}

}  // namespace fleet::exporting::k8s
