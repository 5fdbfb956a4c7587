// Exported units as systemd itself reads them: `systemd-analyze verify`
// has nothing to say about any unit of a fleet covering every engine type,
// restart and overlap policy and health kind; what systemd cannot do is
// said; a schedule it would fire differently is refused.
#include "core/export/systemd_units.h"

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
using ::testing::IsEmpty;

constexpr char kFleet[] = R"(name: matrix
run_dir: run
state:
  remote: https://git.example/state.git
  merge: [{path: "*.json", strategy: json}]
engines:
  - name: keeper
    command: [/bin/sleep, "1000"]
    state: true
    kill_condition: "loss > $10 AND cash < 50%"
    metrics_path: /srv/m-{instance}.json
    capabilities: [llm]
  - name: web
    command: [./bin/serve, --port, "8080", "100%", "$HOME", "a \"quoted\" arg"]
    replicas: 3
    env: {GREETING: "hello world", PRICE: "$5 or 10%"}
    restart: always
    stop: {signal: INT, grace: 20s}
    health: {http: {port: 8080, path: /healthz}}
  - name: worker
    shell: |
      echo "start $FLEET_INSTANCE"
      exec sleep 1000
    restart: on-failure
    depends_on: [web]
    crash_loop: {max_failures: 0}
    health: {heartbeat_path: hb, heartbeat_max_age: 30s}
  - name: once
    command: [/bin/true]
    restart: never
    health: {exec: {command: [/bin/true]}}
  - name: tcp
    command: [/bin/sleep, "1000"]
    health: {tcp: {port: 9000}, log_max_age: 5m}
  - name: cycler
    command: [/bin/true]
    cycle: {interval: 30s, timeout: 10s}
  - name: nightly
    type: cron
    schedule: "0 3 * * *"
    timezone: Europe/Berlin
    command: [/bin/true]
    timeout: 1h
    jitter: 30s
    missed: skip
  - name: either
    type: cron
    schedule: "30 6 1,15 * fri"
    command: [/bin/true]
    overlap: queue
  - name: often
    type: cron
    schedule: "@every 90s"
    command: [/bin/true]
    overlap: replace
  - name: boot
    type: cron
    schedule: "@reboot"
    command: [/bin/true]
  - name: analyst
    type: intelligence
    schedule: "*/30 * * * *"
    command: [/bin/echo, '{"ok": true}']
)";

class SystemdUnitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(getenv("TEST_TMPDIR")) + "/units";
    std::string mkdir = "rm -rf " + dir_ + " && mkdir -p " + dir_;
    ASSERT_EQ(system(mkdir.c_str()), 0);
  }
  absl::StatusOr<Exported> Export(const std::string& yaml, bool approximate = false) {
    absl::StatusOr<config::LoadedConfig> loaded =
        config::LoadConfigFromString(yaml, dir_ + "/fleet.yaml", dir_);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    if (!loaded.ok()) return loaded.status();
    SystemdOptions options;
    options.approximate = approximate;
    options.fleetd = dir_ + "/bin/fleetd";
    options.now = absl::FromCivil(absl::CivilSecond(2026, 12, 6, 0, 0, 0), absl::UTCTimeZone());
    return ExportSystemd(*loaded, options);
  }
  // What `systemd-analyze verify` says of the target (and, through its
  // Wants=, every instance and timer) and of each file: "" when nothing.
  std::string Verify(const Exported& exported) {
    std::string units;
    for (const ExportedFile& f : exported.files) {
      std::ofstream(dir_ + "/" + f.name) << f.text;
      std::string unit = f.name;
      const size_t at = unit.find("@.");
      if (at != std::string::npos) unit.insert(at + 1, "0");  // an instance of the template
      absl::StrAppend(&units, " ", dir_, "/", unit);
    }
    const CommandOutput run = RunCommand("systemd-analyze verify --man=no" + units);
    return run.exit_code == 0 && run.text.empty()
               ? ""
               : absl::StrCat("exit ", run.exit_code, ": ", run.text);
  }
  std::string dir_;
};

TEST_F(SystemdUnitsTest, EveryEngineKindVerifiesCleanly) {
  absl::StatusOr<Exported> exported = Export(kFleet);
  ASSERT_TRUE(exported.ok()) << exported.status();
  ASSERT_TRUE(
      system("mkdir -p $TEST_TMPDIR/units/bin && cp /bin/true $TEST_TMPDIR/units/bin/serve && "
             "cp /bin/true $TEST_TMPDIR/units/bin/fleetd") == 0);
  EXPECT_EQ(Verify(*exported), "");

  // State: pulled before each start, published after each stop, in
  // fleetd's own work-tree layout; the kill condition by fleetd kill-watch.
  const std::string* keeper = exported->Find("fleet-keeper@.service");
  ASSERT_NE(keeper, nullptr);
  const std::string fleetd = absl::StrCat("\"", dir_, "/bin/fleetd\"");
  EXPECT_THAT(*keeper, HasSubstr(absl::StrCat("ExecStartPre=", fleetd, " sync-state pull --dir \"",
                                              dir_, "/run/state/keeper.%i\" \"--remote\" ")));
  EXPECT_THAT(*keeper, HasSubstr("\"--rule\" \"*.json=json\""));
  EXPECT_THAT(*keeper, HasSubstr(absl::StrCat("ExecStopPost=", fleetd, " sync-state publish")));
  EXPECT_THAT(*keeper, HasSubstr(absl::StrCat("Environment=\"FLEET_STATE_DIR=", dir_,
                                              "/run/state/keeper.%i\"")));
  EXPECT_THAT(*keeper,
              HasSubstr(absl::StrCat(
                  "ExecStart=", fleetd,
                  " \"kill-watch\" \"--condition\" \"loss > $$10 AND cash < 50%%\" "
                  "\"--metrics\" \"/srv/m-{instance}.json\" \"--marker\" \"",
                  dir_, "/run/kill/keeper.%i\" \"--grace\" \"10s\" \"--\" \"/bin/sleep\"")));
  EXPECT_THAT(*keeper, HasSubstr(absl::StrCat("Environment=\"FLEET_RUN_DIR=", dir_, "/run\"")));

  const std::string* web = exported->Find("fleet-web@.service");
  ASSERT_NE(web, nullptr);
  // Arguments exactly as given: %, $ and quotes escaped, the relative
  // program made absolute.
  EXPECT_THAT(*web, HasSubstr(absl::StrCat("ExecStart=\"", dir_,
                                           "/./bin/serve\" \"--port\" \"8080\" \"100%%\" "
                                           "\"$$HOME\" \"a \\\"quoted\\\" arg\"\n")));
  EXPECT_THAT(*web, HasSubstr("Environment=\"PRICE=$$5 or 10%%\"\n"));
  EXPECT_THAT(*web, HasSubstr("Environment=\"FLEET_INSTANCE=%i\"\n"));
  EXPECT_THAT(*web, HasSubstr("Restart=always\n"));
  EXPECT_THAT(*web, HasSubstr("KillSignal=SIGINT\n"));
  EXPECT_THAT(*web, HasSubstr("TimeoutStopSec=20s\n"));
  const std::string* worker = exported->Find("fleet-worker@.service");
  ASSERT_NE(worker, nullptr);
  EXPECT_THAT(*worker, HasSubstr("Requires=fleet-web@0.service fleet-web@1.service "
                                 "fleet-web@2.service\n"));
  EXPECT_THAT(*worker, HasSubstr("StartLimitIntervalSec=0\n"));  // Never gives up.
  EXPECT_THAT(*worker, HasSubstr("ExecStart=\"/bin/sh\" \"-c\" \"echo \\\"start "
                                 "$$FLEET_INSTANCE\\\"\\nexec sleep 1000\\n\"\n"));
  EXPECT_THAT(*exported->Find("fleet-once@.service"), HasSubstr("Restart=no\n"));
  const std::string* nightly = exported->Find("fleet-nightly@.timer");
  ASSERT_NE(nightly, nullptr);
  EXPECT_THAT(*nightly, HasSubstr("OnCalendar=*-*-* 03:00:00 Europe/Berlin\n"));
  EXPECT_THAT(*nightly, HasSubstr("Persistent=false\n"));
  EXPECT_THAT(*nightly, HasSubstr("RandomizedDelaySec=30s\n"));
  EXPECT_THAT(*exported->Find("fleet-nightly@.service"), HasSubstr("RuntimeMaxSec=1h\n"));
  const std::string* either = exported->Find("fleet-either@.timer");
  ASSERT_NE(either, nullptr);
  EXPECT_THAT(*either, HasSubstr("OnCalendar=*-*-01,15 06:30:00\n"));
  EXPECT_THAT(*either, HasSubstr("OnCalendar=Fri *-*-* 06:30:00\n"));
  EXPECT_THAT(*exported->Find("fleet-often@.timer"), HasSubstr("OnUnitActiveSec=1m30s\n"));
  EXPECT_THAT(*exported->Find("fleet-boot@.timer"), HasSubstr("OnBootSec=0\n"));
  EXPECT_THAT(*exported->Find("fleet-cycler@.timer"), HasSubstr("OnUnitInactiveSec=30s\n"));
  const std::string* target = exported->Find("fleet-matrix.target");
  ASSERT_NE(target, nullptr);
  EXPECT_THAT(*target, HasSubstr("fleet-web@2.service"));
  EXPECT_THAT(*target, HasSubstr("fleet-nightly@0.timer"));
  // What systemd cannot do is said, per engine.
  EXPECT_THAT(exported->warnings, Contains(HasSubstr("engine web: health checks")));
  EXPECT_THAT(exported->warnings, Contains(HasSubstr("engine either: overlap")));
  EXPECT_THAT(exported->warnings, Contains(HasSubstr("engine analyst: intelligence")));
  EXPECT_THAT(*exported->Find("fleet-often@.service"), HasSubstr("# Not carried over: overlap"));
}

TEST_F(SystemdUnitsTest, TheDemoFleetVerifiesCleanly) {
  // The demo as the tree has it (its scripts beside it, its state on).
  const std::string real = RunfileRealPath("demo/fleet.yaml");
  ASSERT_NE(real, "");
  absl::StatusOr<config::LoadedConfig> loaded = config::LoadConfig(real);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  SystemdOptions options;
  options.fleetd = dir_ + "/bin/fleetd";
  ASSERT_EQ(system("mkdir -p $TEST_TMPDIR/units/bin && cp /bin/true $TEST_TMPDIR/units/bin/fleetd"),
            0);
  absl::StatusOr<Exported> exported = ExportSystemd(*loaded, options);
  ASSERT_TRUE(exported.ok()) << exported.status();
  EXPECT_EQ(Verify(*exported), "");
  const std::string* worker = exported->Find("fleet-worker@.service");
  ASSERT_NE(worker, nullptr);
  EXPECT_THAT(*worker, HasSubstr("ExecStartPre="));  // its state, pulled before each start
}

TEST_F(SystemdUnitsTest, AScheduleSystemdWouldSkipIsRefusedUnlessApproximate) {
  const std::string fleet =
      "name: dst\nrun_dir: run\nengines:\n  - name: j\n    type: cron\n"
      "    schedule: '30 2 * * *'\n    timezone: Europe/Berlin\n    command: [/bin/true]\n";
  absl::StatusOr<Exported> refused = Export(fleet);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("engine j: schedule '30 2 * * *'"));
  EXPECT_THAT(refused.status().message(), HasSubstr("2027-03-28T02:30"));
  EXPECT_THAT(refused.status().message(), HasSubstr("--approximate"));
  absl::StatusOr<Exported> approximate = Export(fleet, /*approximate=*/true);
  ASSERT_TRUE(approximate.ok()) << approximate.status();
  EXPECT_THAT(*approximate->Find("fleet-j@.timer"), HasSubstr("# Approximate: the slot at"));
  EXPECT_THAT(approximate->warnings, Contains(HasSubstr("approximate")));
  EXPECT_EQ(Verify(*approximate), "");
}

TEST(SystemdQuoteTest, EveryCharacterSystemdWouldReadOtherwiseIsEscaped) {
  EXPECT_EQ(SystemdQuote("plain"), "\"plain\"");
  EXPECT_EQ(SystemdQuote("a b"), "\"a b\"");
  EXPECT_EQ(SystemdQuote("50%"), "\"50%%\"");
  EXPECT_EQ(SystemdQuote("$HOME"), "\"$$HOME\"");
  EXPECT_EQ(SystemdQuote("say \"hi\""), "\"say \\\"hi\\\"\"");
  EXPECT_EQ(SystemdQuote("back\\slash"), "\"back\\\\slash\"");
  EXPECT_EQ(SystemdQuote("two\nlines"), "\"two\\nlines\"");
}

}  // namespace
}  // namespace fleet::exporting
