#include "core/config/loader.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/yaml/yaml_to_proto.h"
#include "core/os/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::config {
namespace {

using ::testing::HasSubstr;
namespace v1 = ::fleet::config::v1;

std::string TempDir() {
  std::string tmpl =
      absl::StrCat(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp", "/config_test.XXXXXX");
  return mkdtemp(tmpl.data());
}

std::string ErrorOf(const std::string& yaml) {
  auto loaded = LoadConfigFromString(yaml, "fleet.yaml", "/base");
  EXPECT_FALSE(loaded.ok()) << "accepted:\n" << yaml;
  return loaded.ok() ? "" : std::string(loaded.status().message());
}

TEST(LoaderTest, ForgeOsEngineFileLoadsUnchangedFromDirectory) {
  std::string dir = TempDir();
  ASSERT_TRUE(os::WriteFileAtomic(dir + "/crash-bot.yaml", R"(name: crash-bot
type: daemon
description: Polymarket crash-recovery bot
command: ["python3", "pm_crash_monitor.py"]
cwd: ~/agents/trader
health:
  process: pm_crash_monitor
  log_max_age_min: 20
  log_path: /tmp/pm_crash_monitor.log
kill_condition: "daily_loss > $10 OR cash < $20"
env:
  LIVE_TRADING: "true"
)")
                  .ok());
  setenv("HOME", "/home/op", 1);
  auto loaded = LoadConfig(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->config.engines_size(), 1);
  const v1::Engine& e = loaded->config.engines(0);
  EXPECT_EQ(e.name(), "crash-bot");
  EXPECT_EQ(e.type(), v1::ENGINE_TYPE_DAEMON);
  EXPECT_EQ(e.cwd(), "/home/op/agents/trader");
  EXPECT_EQ(e.health().log_max_age_min(), 20);
  EXPECT_EQ(e.health().process(), "pm_crash_monitor");
  EXPECT_EQ(e.kill_condition(), "daily_loss > $10 OR cash < $20");
  EXPECT_EQ(e.env().at("LIVE_TRADING"), "true");
  // Defaults an operator would pick.
  EXPECT_EQ(e.replicas(), 1u);
  EXPECT_EQ(e.restart(), v1::RESTART_POLICY_ALWAYS);
  EXPECT_EQ(e.backoff().initial().nanos(), 500000000);
  EXPECT_EQ(e.backoff().max().seconds(), 60);
  EXPECT_EQ(e.crash_loop().max_failures(), 10u);
  EXPECT_EQ(e.crash_loop().window().seconds(), 300);
  EXPECT_EQ(e.stop().grace().seconds(), 10);
  EXPECT_EQ(e.logs().max_size(), 10u * 1024 * 1024);
  EXPECT_EQ(loaded->config.name(), dir.substr(dir.rfind('/') + 1));
  EXPECT_EQ(loaded->config.run_dir(), "/home/op/.fleet/run");
}

TEST(LoaderTest, FleetFileWithEngineDirsAndRelativePaths) {
  std::string dir = TempDir();
  ASSERT_TRUE(os::MakeDirs(dir + "/conf.d").ok());
  ASSERT_TRUE(os::WriteFileAtomic(dir + "/fleet.yaml", R"(name: demo
run_dir: run
logs: {max_size: 1MB, max_files: 2}
engine_dirs: [conf.d]
engines:
  - name: a
    command: [sleep, "100"]
    replicas: 3
    restart: on-failure
    backoff: {initial: 0, max: 2m, jitter: 0}
)")
                  .ok());
  ASSERT_TRUE(os::WriteFileAtomic(dir + "/conf.d/b.yml",
                                  "name: b\nshell: echo hi\n"
                                  "depends_on: [a]\n")
                  .ok());
  auto loaded = LoadConfig(dir + "/fleet.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const v1::FleetConfig& c = loaded->config;
  EXPECT_EQ(c.run_dir(), dir + "/run");
  ASSERT_EQ(c.engines_size(), 2);
  EXPECT_EQ(c.engines(0).replicas(), 3u);
  EXPECT_EQ(c.engines(0).restart(), v1::RESTART_POLICY_ON_FAILURE);
  EXPECT_EQ(c.engines(0).backoff().initial().seconds(), 0);
  EXPECT_EQ(c.engines(0).backoff().initial().nanos(), 0);
  EXPECT_EQ(c.engines(0).backoff().max().seconds(), 120);
  EXPECT_EQ(c.engines(0).logs().max_size(), 1024u * 1024);
  EXPECT_EQ(c.engines(0).logs().max_files(), 2u);
  EXPECT_EQ(c.engines(0).cwd(), dir);
  EXPECT_EQ(c.engines(1).name(), "b");
  EXPECT_EQ(c.engines(1).shell(), "echo hi");
  EXPECT_EQ(loaded->files.size(), 2u);
}

TEST(LoaderTest, UnknownKeySuggestsTheClosest) {
  EXPECT_THAT(ErrorOf("engines:\n  - name: a\n    comand: [x]\n"),
              HasSubstr("fleet.yaml:3:5: unknown key 'comand' in Engine; did you mean 'command'?"));
}

TEST(LoaderTest, TextThatIsNotUtf8IsRefusedWhereItIs) {
  // Raw bytes in the file: a proto string must be UTF-8, or every status
  // holding it fails to reach fleetctl. (YAML's own "\xfe" escape means
  // U+00FE, which is valid.)
  EXPECT_THAT(ErrorOf("engines:\n  - name: a\n    command: [x]\n    description: \"\xfe\xff\"\n"),
              HasSubstr("fleet.yaml:4:18: '\\xFE\\xFF' is not valid UTF-8"));
  EXPECT_THAT(ErrorOf("engines:\n  - name: a\n    command: [x]\n    env: {K: \"v\xff\"}\n"),
              HasSubstr("fleet.yaml:4:14: 'v\\xFF' is not valid UTF-8"));
  EXPECT_TRUE(LoadConfigFromString(
                  "engines:\n  - name: a\n    command: [x]\n    description: \"caf\xC3\xA9\"\n",
                  "fleet.yaml", "/base")
                  .ok());
}

TEST(LoaderTest, AHugeFileOrAFifoIsRefusedBeforeParsing) {
  const std::string dir = TempDir();
  {
    std::ofstream big(dir + "/fleet.yaml");
    big << "engines:\n  - name: a\n    command: [x]\n    description: '";
    big << std::string(17 << 20, 'x') << "'\n";
  }
  absl::StatusOr<LoadedConfig> loaded = LoadConfig(dir + "/fleet.yaml");
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("is larger than 16777216 bytes"));
  ASSERT_EQ(unlink((dir + "/fleet.yaml").c_str()), 0);
  ASSERT_EQ(mkfifo((dir + "/fleet.yaml").c_str(), 0600), 0);
  loaded = LoadConfig(dir + "/fleet.yaml");  // Would wait for a writer forever.
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("not a regular file"));
}

TEST(LoaderTest, CommandMustBeAList) {
  EXPECT_THAT(ErrorOf("engines:\n  - name: a\n    command: python3 x.py\n"),
              HasSubstr("fleet.yaml:3:14: 'command' expects a list, found a scalar; write the argv "
                        "as a list"));
}

TEST(LoaderTest, BadValuesNameLineColumnAndExpectation) {
  EXPECT_THAT(ErrorOf("engines:\n  - name: a\n    command: [x]\n    replicas: many\n"),
              HasSubstr("fleet.yaml:4:15: 'many' is not valid for 'replicas': expected a whole "
                        "number"));
  EXPECT_THAT(ErrorOf("engines:\n  - name: a\n    command: [x]\n    restart: sometimes\n"),
              HasSubstr("fleet.yaml:4:14: 'sometimes' is not a valid restart; expected one of "
                        "always, on-failure, never"));
  EXPECT_THAT(ErrorOf("engines:\n  - name: a\n    command: [x]\n    min_uptime: soon\n"),
              HasSubstr("fleet.yaml:4:17: 'soon' is not a duration"));
  EXPECT_THAT(ErrorOf("engines:\n  - name: a\n    command: [x]\n    min_uptime: xd\n"),
              HasSubstr("'xd' is not a duration"));
  auto days = LoadConfigFromString("logs: {max_age: 7d}\nengines: [{name: a, command: [x]}]\n",
                                   "fleet.yaml", "/base");
  ASSERT_TRUE(days.ok()) << days.status();
  EXPECT_EQ(days->config.logs().max_age().seconds(), 7 * 24 * 3600);
  EXPECT_THAT(ErrorOf("engines:\n  - name: a\n    command: [x]\n    stop: {signal: NOPE}\n"),
              HasSubstr("fleet.yaml:4:20: 'NOPE' is not a signal name"));
}

TEST(LoaderTest, SemanticErrors) {
  EXPECT_THAT(ErrorOf("engines:\n  - name: a\n"), HasSubstr("needs a command"));
  EXPECT_THAT(ErrorOf("engines:\n  - name: 'bad/name'\n    command: [x]\n"),
              HasSubstr("fleet.yaml:2:11: engine name 'bad/name'"));
  EXPECT_THAT(
      ErrorOf("engines:\n  - {name: a, command: [x]}\n  - {name: a, command: [y]}\n"),
      HasSubstr("fleet.yaml:3:12: engine 'a' is declared twice (first at fleet.yaml:2:12)"));
  EXPECT_THAT(ErrorOf("engines:\n  - {name: a, command: [x], depends_on: [zz]}\n"),
              HasSubstr("fleet.yaml:2:42: depends_on names 'zz', which is not an engine"));
  EXPECT_THAT(ErrorOf("engines:\n  - {name: a, command: [x], depends_on: [b]}\n"
                      "  - {name: b, command: [x], depends_on: [a]}\n"),
              HasSubstr("depends_on makes a cycle: a -> b -> a"));
  EXPECT_THAT(ErrorOf("engines:\n  - {name: a, type: cron, command: [x]}\n"),
              HasSubstr("need a schedule"));
  EXPECT_THAT(ErrorOf("engines:\n  - {name: a, command: [x], shell: y}\n"),
              HasSubstr("either command or shell"));
  EXPECT_THAT(ErrorOf("engines:\n  - name: a\n    command: [x]\n"
                      "    kill_condition: \"daily_loss > $ OR cash < $20\"\n"),
              HasSubstr("fleet.yaml:4:21: kill_condition 'daily_loss > $ OR cash < $20' is not "
                        "valid: column 14: expected a number after '$'"));
  EXPECT_THAT(ErrorOf("engines:\n  - name: a\n    command: [x]\n    cycle: {timeout: 5s}\n"),
              HasSubstr("fleet.yaml:4:12: a cycle needs an interval above zero"));
  EXPECT_THAT(ErrorOf("engines:\n  - {name: a, type: cron, schedule: '@hourly', command: [x],"
                      " cycle: {interval: 1s}}\n"),
              HasSubstr("cycle applies to daemons"));
  EXPECT_THAT(ErrorOf("engines:\n  - name: a\n    type: cron\n    command: [x]\n"
                      "    schedule: \"0 25 * * *\"\n"),
              HasSubstr("fleet.yaml:5:15: schedule '0 25 * * *' is not valid: column 3: 25 is "
                        "out of range for the hour (0-23)"));
  EXPECT_THAT(
      ErrorOf("engines:\n  - {name: a, type: cron, schedule: '0 0 30 2 *', command: [x]}\n"),
      HasSubstr("schedule '0 0 30 2 *' never fires"));
  EXPECT_THAT(ErrorOf("engines:\n  - {name: a, type: cron, schedule: '@daily', command: [x],"
                      " timezone: Mars/Olympus}\n"),
              HasSubstr("unknown time zone 'Mars/Olympus'"));
  EXPECT_THAT(ErrorOf("engines:\n  - {name: a, command: [x], timezone: UTC}\n"),
              HasSubstr("timezone applies to cron and intelligence engines"));
  EXPECT_THAT(ErrorOf("engines:\n  - {name: a, command: [x], overlap: queue}\n"),
              HasSubstr("overlap applies to cron and intelligence engines"));
  EXPECT_THAT(ErrorOf("engines:\n  - {name: a, type: cron, schedule: '@daily', command: [x],"
                      " overlap: sometimes}\n"),
              HasSubstr("overlap"));
  EXPECT_THAT(ErrorOf("engines:\n  - name: a\n    type: intelligence\n    schedule: '@daily'\n"
                      "    command: [x]\n    output:\n      format: json\n"
                      "      must_not_match: ['ok', '([a-']\n"),
              HasSubstr("fleet.yaml:8:30: '([a-' is not a valid regular expression"));
  EXPECT_THAT(ErrorOf("engines:\n  - {name: a, type: intelligence, schedule: '@daily',"
                      " command: [x], output: {format: toml}}\n"),
              HasSubstr("format 'toml' is not known"));
  EXPECT_THAT(ErrorOf("engines:\n  - {name: a, type: cron, schedule: '@daily', command: [x],"
                      " output: {format: json}}\n"),
              HasSubstr("output checks apply to intelligence engines"));
  EXPECT_THAT(ErrorOf("engines:\n  - {name: a, type: intelligence, schedule: '@daily',"
                      " command: [x], state: true, output: {deliver: ../../etc/x}}\n"),
              HasSubstr("must not climb out"));
  EXPECT_THAT(ErrorOf("engines:\n  - {name: a, command: [x], capabilities: [ok, '../x']}\n"),
              HasSubstr("fleet.yaml:2:48: capability '../x' must be 1 to 100"));
  EXPECT_THAT(ErrorOf("bus:\n  external_capabilities: [llm, 'a/b']\nengines: []\n"),
              HasSubstr("fleet.yaml:2:32: capability 'a/b' must be 1 to 100"));
}

TEST(LoaderTest, SyntaxErrorsAndHostileDocuments) {
  EXPECT_THAT(ErrorOf("engines: [\n"), HasSubstr("fleet.yaml:2:1:"));
  EXPECT_THAT(ErrorOf("name: a\nname: b\n"), HasSubstr("fleet.yaml:2:1: duplicate key 'name'"));
  std::string deep(5000, '[');
  EXPECT_THAT(ErrorOf("x: " + deep), HasSubstr("fleet.yaml"));
  // A billion-laughs document: small text, huge tree.
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'h'; ++c) {
    bomb += absl::StrCat(std::string(1, c), ": &", std::string(1, c), " [");
    for (int i = 0; i < 10; ++i) bomb += absl::StrCat(i ? ", " : "", "*", std::string(1, prev));
    bomb += "]\n";
    prev = c;
  }
  bomb = "engines:\n  - name: z\n    command: [x]\n    health:\n      plugin:\n" + [&] {
    std::string indented;
    for (absl::string_view line : absl::StrSplit(bomb, '\n', absl::SkipEmpty())) {
      absl::StrAppend(&indented, "        ", line, "\n");
    }
    return indented;
  }();
  EXPECT_THAT(ErrorOf(bomb), HasSubstr("expands to more than"));
}

TEST(LoaderTest, StateBlockIsValidatedWithDefaults) {
  auto loaded = LoadConfigFromString(R"(run_dir: /run/f
state:
  remote: shared.git
  merge:
    - {path: "logs/*.log", strategy: union}
    - {path: "*.json", strategy: json-ours}
engines:
  - {name: a, command: [x], state: true}
)",
                                     "fleet.yaml", "/base");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const v1::State& s = loaded->config.state();
  EXPECT_EQ(s.remote(), "/base/shared.git");
  EXPECT_EQ(s.branch(), "main");
  EXPECT_EQ(s.work_trees(), "/run/f/state");
  EXPECT_EQ(s.plugin(), "libfleet_sync_git.so");
  EXPECT_EQ(s.push_attempts(), 8u);
  EXPECT_TRUE(loaded->config.engines(0).state());
  EXPECT_THAT(ErrorOf("state:\n  remote: r\n  merge:\n    - {path: x, strategy: unoin}\n"),
              HasSubstr("fleet.yaml:4:27: 'unoin' is not a merge strategy; expected one of ours, "
                        "theirs, union, keep-both, json, json-ours, json-theirs (did you mean "
                        "'union'?)"));
  EXPECT_THAT(ErrorOf("engines:\n  - {name: a, command: [x], state: true}\n"),
              HasSubstr("engine 'a' uses state, but the fleet has no state: block"));
  EXPECT_THAT(ErrorOf("state: {branch: main}\n"), HasSubstr("state needs a remote"));
}

TEST(LoaderTest, RecoveryBlockIsValidatedWithDefaults) {
  auto loaded = LoadConfigFromString(
      "engines: [{name: a, command: [x]}]\n"
      "recovery:\n  protect:\n    - {path: data/book.json, required_keys: [cash]}\n",
      "fleet.yaml", "/base");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const auto& r = loaded->config.recovery();
  EXPECT_EQ(r.keep_snapshots(), 10u);
  EXPECT_EQ(r.interval().seconds(), 10);
  EXPECT_EQ(r.plugin(), "libfleet_recovery_files.so");
  EXPECT_EQ(r.protect(0).path(), "/base/data/book.json");
  EXPECT_THAT(
      ErrorOf("state: {remote: r.git, catch_up: squash}\nengines: [{name: a, command: [x]}]\n"),
      HasSubstr("catch_up 'squash' is not rebase or merge"));
  EXPECT_THAT(ErrorOf("engines: [{name: a, command: [x]}]\n"
                      "recovery: {protect: [{path: x.json, min_size_ratio: 2}]}\n"),
              HasSubstr("min_size_ratio must be between 0 and 1"));
  EXPECT_THAT(ErrorOf("engines: [{name: a, command: [x]}]\n"
                      "recovery: {protect: [{path: x.json, format: xml}]}\n"),
              HasSubstr("format 'xml' is not json, yaml or text"));
  EXPECT_THAT(ErrorOf("engines: [{name: a, command: [x]}]\n"
                      "recovery: {protect: [{path: x.json, state: true}]}\n"),
              HasSubstr("the fleet has no state: block"));
}

// fleetd --run-dir: the flag replaces the file's run_dir before anything
// is derived from it, and a relative one is taken from the current directory.
TEST(LoaderTest, ARunDirOverrideIsWhatDefaultsAreDerivedFrom) {
  const std::string dir = TempDir();
  std::ofstream(dir + "/fleet.yaml") << "run_dir: from-file\nstate: {remote: shared.git}\n"
                                        "engines: [{name: a, command: [x], state: true}]\n";
  auto loaded = LoadConfig(dir + "/fleet.yaml", "/srv/flag-run");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->config.run_dir(), "/srv/flag-run");
  EXPECT_EQ(loaded->config.state().work_trees(), "/srv/flag-run/state");
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  loaded = LoadConfig(dir + "/fleet.yaml", "run3");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->config.run_dir(), std::string(cwd) + "/run3");
  loaded = LoadConfig(dir + "/fleet.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->config.run_dir(), dir + "/from-file");  // The file's, against its directory.
}

// One run names every mistake: a value of the wrong type does not hide the
// semantic errors elsewhere; doubts are warnings, not refusals.
TEST(LoaderTest, EveryMistakeInOneRunAndDoubtsAsWarnings) {
  const std::string error = ErrorOf(R"(engines:
  - name: a
    command: [x]
    backoff: {initial: 10s, max: 1s}
    health: {tcp: {port: 70000}, period: 0s, log_max_age: 0s}
  - name: b
    type: cron
    schedule: "61 * * * *"
    command: [x]
  - name: c
    command: [x]
    min_uptime: banana
)");
  EXPECT_THAT(error, HasSubstr("fleet.yaml:12:17: 'banana' is not a duration"));
  EXPECT_THAT(error, HasSubstr("fleet.yaml:4:24: backoff.initial (10000ms) is more than backoff.max"));
  EXPECT_THAT(error, HasSubstr("tcp probe port 70000 is not 1-65535"));
  EXPECT_THAT(error, HasSubstr("health.period must be more than zero"));
  EXPECT_THAT(error, HasSubstr("health.log_max_age must be more than zero"));
  EXPECT_THAT(error, HasSubstr("schedule '61 * * * *' is not valid"));
  EXPECT_THAT(ErrorOf(""), HasSubstr("fleet.yaml: the file is empty"));
  auto loaded = LoadConfigFromString(
      "engines: [{name: a, command: [no-such-program-here], cwd: /no/such/dir},\n"
      "          {name: b, command: [no-such-program-here]}]\n",
      "fleet.yaml", "/tmp");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->warnings.size(), 2u);
  EXPECT_THAT(loaded->warnings[0], HasSubstr("cwd /no/such/dir is not a directory (yet)"));
  EXPECT_THAT(loaded->warnings[1], HasSubstr("'no-such-program-here' is not found in PATH"));
}

TEST(LoaderTest, MissingPathIsNotFound) {
  EXPECT_EQ(LoadConfig("/no/such/fleet.yaml").status().code(), absl::StatusCode::kNotFound);
}

TEST(ByteSizeTest, Units) {
  EXPECT_EQ(*yaml::ParseByteSize("4096"), 4096u);
  EXPECT_EQ(*yaml::ParseByteSize("10MB"), 10u * 1024 * 1024);
  EXPECT_EQ(*yaml::ParseByteSize("512KiB"), 512u * 1024);
  EXPECT_FALSE(yaml::ParseByteSize("10 parsecs").ok());
}

}  // namespace
}  // namespace fleet::config
