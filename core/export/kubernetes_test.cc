// Exported objects as Kubernetes' own schemas judge them (kubernetes-models,
// from npm, run by Node): every object of a fleet covering every engine
// type, overlap policy and health kind, and of the demo fleet, is valid;
// what Kubernetes cannot express is said; a schedule it cannot keep is
// refused unless --approximate.
#include "core/export/kubernetes.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/export/command_output.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::exporting {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

constexpr char kFleet[] = R"(name: Matrix_Fleet
run_dir: run
state:
  remote: https://git.example/state.git
  merge: [{path: "*.json", strategy: json}]
  watchdog: 2m
engines:
  - name: thinker
    command: [/srv/think, "it's"]
    state: true
    cycle: {interval: 60s}
    kill_condition: "loss > $10"
    metrics_path: /srv/metrics-{instance}.json
  - name: web
    command: [/srv/serve, --port, "8080"]
    env: {GREETING: "yes", MODE: "0755"}
    health: {http: {port: 8080, path: /healthz}, startup_grace: 60s, period: 5s}
  - name: shards
    shell: 'exec worker --shard "$FLEET_INSTANCE"'
    replicas: 4
    capabilities: [llm, search]
    health: {heartbeat_path: /tmp/hb, heartbeat_max_age: 30s}
  - name: tcp
    command: [/bin/sleep, "1000"]
    restart: on-failure
    health: {tcp: {port: 9000}}
  - name: probe
    command: [/bin/sleep, "1000"]
    health: {exec: {command: [/bin/check, --quick]}, log_max_age: 5m}
  - name: cycler
    command: [/bin/true]
    cycle: {interval: 30s}
  - name: nightly
    type: cron
    schedule: "0 3 * * *"
    timezone: Europe/Berlin
    command: [/bin/true]
    timeout: 1h
    missed: skip
  - name: queued
    type: cron
    schedule: "*/10 * * * *"
    command: [/bin/true]
    overlap: queue
    restart: never
  - name: replaced
    type: cron
    schedule: "@hourly"
    command: [/bin/true]
    overlap: replace
  - name: analyst
    type: intelligence
    schedule: "30 6 * * 1-5"
    command: [/bin/echo, '{"ok": true}']
)";

// The real directory of a runfile (its symlink's target's directory).
std::string RealDir(const std::string& runfile) {
  const std::string real = RunfileRealPath(runfile);
  return real.substr(0, real.rfind('/'));
}

// What tools/k8s/validate.js says of the files ("" and exit 0 when valid).
std::string Validate(const Exported& exported, const std::string& dir) {
  std::string files;
  for (const ExportedFile& f : exported.files) {
    std::ofstream(dir + "/" + f.name) << f.text;
    absl::StrAppend(&files, " ", dir, "/", f.name);
  }
  const std::string k8s = RealDir("tools/k8s/validate.js");
  const CommandOutput run = RunCommand(absl::StrCat("cd ", k8s, " && node validate.js", files));
  return run.exit_code == 0 ? "" : absl::StrCat("exit ", run.exit_code, ": ", run.text);
}

class KubernetesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(getenv("TEST_TMPDIR")) + "/objects";
    ASSERT_EQ(system(("rm -rf " + dir_ + " && mkdir -p " + dir_).c_str()), 0);
  }
  absl::StatusOr<Exported> Export(const config::LoadedConfig& loaded, bool approximate = false) {
    KubernetesOptions options;
    options.image = "registry.example/fleet:1";
    options.namespace_ = "agents";
    options.approximate = approximate;
    return ExportKubernetes(loaded, options);
  }
  std::string dir_;
};

TEST_F(KubernetesTest, EveryEngineKindIsValidKubernetes) {
  absl::StatusOr<config::LoadedConfig> loaded =
      config::LoadConfigFromString(kFleet, dir_ + "/fleet.yaml", dir_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  absl::StatusOr<Exported> exported = Export(*loaded);
  ASSERT_TRUE(exported.ok()) << exported.status();
  EXPECT_EQ(Validate(*exported, dir_), "");

  const std::string* web = exported->Find("matrix-fleet-web.deployment.yaml");
  ASSERT_NE(web, nullptr);
  EXPECT_THAT(*web, HasSubstr("namespace: \"agents\""));
  EXPECT_THAT(*web, HasSubstr("image: \"registry.example/fleet:1\""));
  EXPECT_THAT(*web, HasSubstr("value: \"0755\""));  // A string stays a string.
  EXPECT_THAT(*web, HasSubstr("httpGet:\n"));
  EXPECT_THAT(*web, HasSubstr("startupProbe:\n"));
  const std::string* shards = exported->Find("matrix-fleet-shards.statefulset.yaml");
  ASSERT_NE(shards, nullptr);
  EXPECT_THAT(*shards, HasSubstr("replicas: 4\n"));
  EXPECT_THAT(*shards, HasSubstr("export FLEET_INSTANCE=\\\"${HOSTNAME##*-}\\\""));
  EXPECT_THAT(*shards, HasSubstr("capability.fleet.dev/llm: \"true\""));
  EXPECT_THAT(*shards, HasSubstr("- \"fleetctl\"\n"));  // the heartbeat, by fleet's probe
  EXPECT_NE(exported->Find("matrix-fleet-shards.service.yaml"), nullptr);
  EXPECT_THAT(*exported->Find("matrix-fleet-tcp.deployment.yaml"), HasSubstr("tcpSocket:\n"));
  const std::string* nightly = exported->Find("matrix-fleet-nightly.cronjob.yaml");
  ASSERT_NE(nightly, nullptr);
  EXPECT_THAT(*nightly, HasSubstr("timeZone: \"Europe/Berlin\""));
  EXPECT_THAT(*nightly, HasSubstr("activeDeadlineSeconds: 3600"));
  EXPECT_THAT(*nightly, HasSubstr("startingDeadlineSeconds: 60"));
  EXPECT_THAT(*exported->Find("matrix-fleet-queued.cronjob.yaml"),
              HasSubstr("concurrencyPolicy: \"Forbid\""));
  EXPECT_THAT(*exported->Find("matrix-fleet-queued.cronjob.yaml"), HasSubstr("backoffLimit: 0"));
  EXPECT_THAT(*exported->Find("matrix-fleet-replaced.cronjob.yaml"),
              HasSubstr("concurrencyPolicy: \"Replace\""));
  EXPECT_THAT(exported->warnings,
              Contains(HasSubstr("fleet.yaml:44:14: engine queued: overlap: queue")));
  EXPECT_THAT(exported->warnings,
              Contains(HasSubstr("engine probe: log freshness on the captured output")));
  EXPECT_THAT(exported->warnings, Contains(HasSubstr("engine analyst: intelligence")));
  EXPECT_THAT(exported->warnings, Contains(HasSubstr("engine tcp: restart")));
}

TEST_F(KubernetesTest, StateKillConditionsAndTheBusBecomeContainersAndVolumes) {
  absl::StatusOr<config::LoadedConfig> loaded =
      config::LoadConfigFromString(kFleet, dir_ + "/fleet.yaml", dir_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  absl::StatusOr<Exported> exported = Export(*loaded);
  ASSERT_TRUE(exported.ok()) << exported.status();

  // State: an init container pulls, a native sidecar publishes every
  // watchdog and at the stop; the worker pulls before each cycle and
  // publishes after it, in its own work tree.
  const std::string* thinker = exported->Find("matrix-fleet-thinker.statefulset.yaml");
  ASSERT_NE(thinker, nullptr);
  EXPECT_THAT(*thinker, HasSubstr("initContainers:\n"));
  EXPECT_THAT(*thinker, HasSubstr("name: \"state-pull\""));
  EXPECT_THAT(*thinker, HasSubstr("name: \"state-sync\""));
  EXPECT_THAT(*thinker, HasSubstr("restartPolicy: \"Always\""));
  EXPECT_THAT(*thinker, HasSubstr("- \"--every\"\n"));
  EXPECT_THAT(*thinker, HasSubstr("- \"120s\"\n"));
  EXPECT_THAT(*thinker, HasSubstr("- \"*.json=json\"\n"));
  EXPECT_THAT(*thinker, HasSubstr("value: \"/var/lib/fleet/state/tree\""));
  EXPECT_THAT(*thinker, HasSubstr("fleetd sync-state publish --dir /var/lib/fleet/state/tree"));
  EXPECT_THAT(*thinker, HasSubstr("emptyDir: {}"));
  // The kill condition: fleetd kill-watch around the worker, its marker on a volume.
  EXPECT_THAT(*thinker, HasSubstr("- \"kill-watch\"\n"));
  EXPECT_THAT(*thinker, HasSubstr("- \"loss > $10\"\n"));
  EXPECT_THAT(*thinker, HasSubstr("- \"/srv/metrics-{instance}.json\"\n"));
  EXPECT_THAT(*thinker, HasSubstr("mountPath: \"/var/lib/fleet/kill\""));
  EXPECT_THAT(*thinker, HasSubstr("terminationGracePeriodSeconds: 45"));  // 10s + 30s + 5s

  // The bus: a ReadWriteMany claim, the workers mount it, one conductor.
  const std::string* claim = exported->Find("matrix-fleet-bus.persistentvolumeclaim.yaml");
  ASSERT_NE(claim, nullptr);
  EXPECT_THAT(*claim, HasSubstr("- \"ReadWriteMany\""));
  const std::string* shards = exported->Find("matrix-fleet-shards.statefulset.yaml");
  ASSERT_NE(shards, nullptr);
  EXPECT_THAT(*shards, HasSubstr("claimName: \"matrix-fleet-bus\""));
  EXPECT_THAT(*shards, HasSubstr("value: \"/var/lib/fleet/shared/run\""));
  const std::string* conductor = exported->Find("matrix-fleet-conductor.deployment.yaml");
  ASSERT_NE(conductor, nullptr);
  EXPECT_THAT(*conductor, HasSubstr("type: \"Recreate\""));
  EXPECT_THAT(*conductor, HasSubstr("replicas: 1\n"));
  const std::string* map = exported->Find("matrix-fleet-conductor.configmap.yaml");
  ASSERT_NE(map, nullptr);
  EXPECT_THAT(*map, HasSubstr("external_capabilities:\\n    - \\\"llm\\\"\\n    - \\\"search\\\""));

  // The conductor's fleet file is one fleetd takes.
  const size_t start = map->find("fleet.yaml: \"") + 13;
  std::string text;
  for (size_t i = start; i < map->size() && (*map)[i] != '"'; ++i) {
    if ((*map)[i] == '\\') {
      ++i;
      text += (*map)[i] == 'n' ? '\n' : (*map)[i];
    } else {
      text += (*map)[i];
    }
  }
  absl::StatusOr<config::LoadedConfig> conductor_config =
      config::LoadConfigFromString(text, dir_ + "/conductor.yaml", dir_);
  ASSERT_TRUE(conductor_config.ok()) << conductor_config.status() << "\n" << text;
  EXPECT_EQ(conductor_config->config.bus().external_capabilities_size(), 2);
  EXPECT_EQ(conductor_config->config.run_dir(), "/var/lib/fleet/shared/run");
}

TEST_F(KubernetesTest, TheDemoFleetIsValidKubernetes) {
  absl::StatusOr<config::LoadedConfig> loaded =
      config::LoadConfig(RealDir("demo/fleet.yaml") + "/fleet.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  // Its `@every 5s` engine has no exact CronJob: refused, then exported so.
  absl::StatusOr<Exported> refused = Export(*loaded);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("--approximate"));
  absl::StatusOr<Exported> exported = Export(*loaded, /*approximate=*/true);
  ASSERT_TRUE(exported.ok()) << exported.status();
  EXPECT_EQ(Validate(*exported, dir_), "");
  EXPECT_GE(exported->files.size(), 10u);
}

TEST(KubernetesNameTest, NamesAreDns1123) {
  EXPECT_EQ(KubernetesName("Matrix_Fleet", "web"), "matrix-fleet-web");
  EXPECT_EQ(KubernetesName("f", "__x__"), "f---x");
  EXPECT_LE(KubernetesName(std::string(80, 'a'), "e").size(), 52u);
}

}  // namespace
}  // namespace fleet::exporting
