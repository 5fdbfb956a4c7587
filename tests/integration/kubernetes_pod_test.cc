// The containers `fleetctl export kubernetes` writes, run for real on this
// machine: a pod's init container, its worker and its sidecar are taken
// from the exported StatefulSet as they are (only fleet's paths moved into
// a temporary directory and `fleetd` named by its path), against a real
// bare remote. The worker pulls, works in its own tree as instance 2 (the
// pod's ordinal), publishes after each cycle, and its kill condition stops
// it for good; the sidecar publishes what is left at its stop.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/fleet_harness.h"
#include "tests/integration/git_remote.h"
#include "yaml-cpp/yaml.h"

namespace fleet::testing {
namespace {

using ::testing::HasSubstr;

struct Container {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // KEY=value
};

class KubernetesPodTest : public ::testing::Test {
 protected:
  // A container of the exported object as this machine runs it.
  Container Take(const YAML::Node& c) const {
    const std::string pod = h_.dir() + "/pod";
    const std::string fleetd = FleetHarness::FleetdPath();
    auto local = [&](std::string s) {
      s = absl::StrReplaceAll(
          s, {{"/var/lib/fleet", pod}, {"fleetd sync-state", "'" + fleetd + "' sync-state"}});
      return s == "fleetd" ? fleetd : s;
    };
    Container out;
    for (const YAML::Node& a : c["command"]) out.argv.push_back(local(a.as<std::string>()));
    out.env = {"PATH=/usr/bin:/bin", "HOSTNAME=it-thinker-2"};
    // A sanitizer build's settings (.bazelrc) go through, as to any child.
    for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"}) {
      if (const char* value = getenv(name)) out.env.push_back(absl::StrCat(name, "=", value));
    }
    for (const YAML::Node& e : c["env"]) {
      out.env.push_back(
          absl::StrCat(e["name"].as<std::string>(), "=", local(e["value"].as<std::string>())));
    }
    return out;
  }
  static pid_t Start(const Container& c, const std::string& out) {
    return FleetHarness::Spawn(c.argv, c.env, out);
  }

  FleetHarness h_;
};

TEST_F(KubernetesPodTest, TheExportedContainersSyncStateAndKeepTheKillCondition) {
  const std::string remote_path = InitBareRemote(h_.dir());
  Remote remote(remote_path);
  // The worker counts its cycles in its tree; at the third it reports a
  // loss its kill condition does not allow.
  h_.WriteFile("fleet.yaml", absl::StrCat(R"(name: it
run_dir: run
state:
  remote: )",
                                          remote_path, R"(
  merge: [{path: "*.txt", strategy: union}]
engines:
  - name: thinker
    replicas: 3
    state: true
    cycle: {interval: 1s}
    kill_condition: "loss > 5"
    stop: {grace: 2s}
    shell: |
      echo "cycle by $FLEET_INSTANCE" >> "$FLEET_STATE_DIR/seen.txt"
      n=$(wc -l < "$FLEET_STATE_DIR/seen.txt")
      if [ "$n" -ge 3 ]; then echo "FLEET_METRIC loss=9"; sleep 30; fi
)"));
  CommandResult exported = h_.Fleetctl(
      {"export", "kubernetes", h_.dir() + "/fleet.yaml", "--image", "x", "-o", h_.dir() + "/k8s"});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_THAT(exported.err, HasSubstr("is a path on this machine"));  // Said, not refused.
  const YAML::Node set = YAML::LoadFile(h_.dir() + "/k8s/it-thinker.statefulset.yaml");
  const YAML::Node pod = set["spec"]["template"]["spec"];
  ASSERT_EQ(pod["initContainers"].size(), 2u);
  const Container pull = Take(pod["initContainers"][0]);
  const Container sidecar = Take(pod["initContainers"][1]);
  const Container worker = Take(pod["containers"][0]);

  // The init container: the tree, cloned.
  ASSERT_EQ(FleetHarness::WaitExit(Start(pull, h_.dir() + "/pull.out")), 0)
      << FleetHarness::FileText(h_.dir() + "/pull.out");
  ASSERT_EQ(access((h_.dir() + "/pod/state/tree/.git").c_str(), F_OK), 0);

  // The worker: cycles published as instance 2, until its kill condition.
  const pid_t running = Start(worker, h_.dir() + "/worker.out");
  const bool stopped = FleetHarness::WaitUntil(
      [&] {
        return FleetHarness::FileText(h_.dir() + "/worker.out")
                   .find("stopping the worker for good") != std::string::npos;
      },
      absl::Seconds(30));
  EXPECT_TRUE(stopped) << FleetHarness::FileText(h_.dir() + "/worker.out");
  EXPECT_THAT(remote.File("seen.txt"), HasSubstr("cycle by 2\ncycle by 2\n"));
  EXPECT_THAT(FleetHarness::FileText(h_.dir() + "/pod/kill/stopped"), HasSubstr("loss=9"));
  EXPECT_GE(remote.CommitsByAuthor()["thinker/2"], 2);
  kill(-running, SIGKILL);
  FleetHarness::WaitExit(running);

  // The sidecar: what the worker left is published at its stop.
  std::ofstream(h_.dir() + "/pod/state/tree/last.txt") << "left\n";
  const pid_t watching = Start(sidecar, h_.dir() + "/sidecar.out");
  absl::SleepFor(absl::Milliseconds(500));
  kill(watching, SIGTERM);
  EXPECT_EQ(FleetHarness::WaitExit(watching), 0)
      << FleetHarness::FileText(h_.dir() + "/sidecar.out");
  EXPECT_EQ(remote.File("last.txt"), "left\n");
}

}  // namespace
}  // namespace fleet::testing
