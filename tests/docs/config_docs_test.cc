// fleet.yaml's references (fleet.yaml(5) and the README's defaults table)
// against the schema and the loader: a key added to config.proto without
// being documented, or a default changed in the code but not in the README,
// fails here rather than surprising an operator.
#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "core/config/loader.h"
#include "core/health/policy.h"
#include "core/os/files.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "proto/fleet/config/v1/config.pb.h"
#include "re2/re2.h"

namespace fleet {
namespace {

namespace v1 = ::fleet::config::v1;

std::string Runfile(const std::string& path) {
  return absl::StrCat(getenv("TEST_SRCDIR"), "/", getenv("TEST_WORKSPACE"), "/", path);
}

std::string Read(const std::string& path) {
  absl::StatusOr<std::string> text = os::ReadFile(Runfile(path));
  EXPECT_TRUE(text.ok()) << path;
  return text.value_or("");
}

// The README's "Engine settings and their defaults" table: key -> row.
std::vector<std::pair<std::vector<std::string>, std::string>> DefaultsTable() {
  const std::string readme = Read("README.md");
  const size_t start = readme.find("### Engine settings and their defaults");
  const size_t end = readme.find("\n\n", readme.find("| --- |", start) );
  EXPECT_NE(start, std::string::npos);
  std::vector<std::pair<std::vector<std::string>, std::string>> rows;
  for (absl::string_view row : absl::StrSplit(readme.substr(start, end - start), '\n')) {
    if (!absl::StartsWith(row, "| `")) continue;
    std::vector<std::string> keys;
    const absl::string_view first = row.substr(1, row.find('|', 1) - 1);
    re2::StringPiece cell(first.data(), first.size());
    std::string key;
    while (RE2::FindAndConsume(&cell, "`([a-z_]+)`", &key)) keys.push_back(key);
    rows.emplace_back(keys, std::string(row));
  }
  return rows;
}

std::string RowOf(const std::string& key) {
  for (const auto& [keys, row] : DefaultsTable()) {
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) return row;
  }
  return "";
}

// "key: 500ms" in text, as a duration.
absl::Duration DurationAfter(const std::string& text, const std::string& key) {
  std::string value;
  absl::Duration d = absl::InfiniteDuration();
  if (RE2::PartialMatch(text, absl::StrCat("\\b", key, ": ([0-9.]+(?:ms|s|m|h))"), &value)) {
    EXPECT_TRUE(absl::ParseDuration(value, &d)) << value;
  }
  return d;
}

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

v1::Engine LoadOne(const std::string& engine_yaml) {
  absl::StatusOr<config::LoadedConfig> loaded = config::LoadConfigFromString(
      absl::StrCat("name: docs\nengines:\n", engine_yaml), "fleet.yaml", getenv("TEST_TMPDIR"));
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  return loaded.ok() ? loaded->config.engines(0) : v1::Engine();
}

TEST(ConfigDocsTest, EveryKeyOfTheSchemaIsInTheManPage) {
  std::string man = Read("tools/install/fleet.yaml.5");
  RE2::GlobalReplace(&man, R"(\\f[BIRP])", "");  // Font changes: \fBkey\fR is "key".
  for (const google::protobuf::Descriptor* d :
       {v1::FleetConfig::descriptor(), v1::Engine::descriptor(), v1::Health::descriptor(),
        v1::LogPolicy::descriptor(), v1::Backoff::descriptor(), v1::CrashLoop::descriptor(),
        v1::Stop::descriptor(), v1::Cycle::descriptor(), v1::Output::descriptor(),
        v1::Judge::descriptor(), v1::Budget::descriptor(), v1::State::descriptor(),
        v1::MergeRule::descriptor(), v1::Recovery::descriptor(), v1::ProtectedFile::descriptor(),
        v1::Plugin::descriptor(), v1::Metrics::descriptor()}) {
    for (int i = 0; i < d->field_count(); ++i) {
      const std::string& name = d->field(i)->name();
      EXPECT_TRUE(RE2::PartialMatch(man, absl::StrCat("\\b", name, "\\b")))
          << d->name() << "." << name << " is not in fleet.yaml(5)";
    }
  }
}

TEST(ConfigDocsTest, EveryEngineKeyHasARowInTheReadmeDefaultsTable) {
  const google::protobuf::Descriptor* d = v1::Engine::descriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    EXPECT_NE(RowOf(d->field(i)->name()), "")
        << d->field(i)->name() << " has no row in README's engine settings table";
  }
}

TEST(ConfigDocsTest, TheReadmeDefaultsAreTheLoadersDefaults) {
  const v1::Engine e = LoadOne("  - name: w\n    command: [x]\n");
  const std::string backoff = RowOf("backoff");
  EXPECT_EQ(DurationAfter(backoff, "initial"), FromProto(e.backoff().initial())) << backoff;
  EXPECT_EQ(DurationAfter(backoff, "max"), FromProto(e.backoff().max())) << backoff;
  EXPECT_EQ(DurationAfter(backoff, "reset_after"), FromProto(e.backoff().reset_after()));
  EXPECT_THAT(backoff, ::testing::HasSubstr(absl::StrCat("factor: ", e.backoff().factor())));
  EXPECT_THAT(backoff, ::testing::HasSubstr(absl::StrCat("jitter: ", e.backoff().jitter())));
  const std::string crash = RowOf("crash_loop");
  EXPECT_THAT(crash, ::testing::HasSubstr(
                         absl::StrCat("max_failures: ", e.crash_loop().max_failures())));
  EXPECT_EQ(DurationAfter(crash, "window"), FromProto(e.crash_loop().window())) << crash;
  const std::string stop = RowOf("stop");
  EXPECT_THAT(stop, ::testing::HasSubstr(absl::StrCat("signal: ", e.stop().signal())));
  EXPECT_EQ(DurationAfter(stop, "grace"), FromProto(e.stop().grace())) << stop;
  std::string uptime;
  ASSERT_TRUE(RE2::PartialMatch(RowOf("min_uptime"), "\\| ([0-9]+(?:ms|s|m)) \\|", &uptime));
  absl::Duration min_uptime;
  ASSERT_TRUE(absl::ParseDuration(uptime, &min_uptime));
  EXPECT_EQ(min_uptime, FromProto(e.min_uptime()));
  const std::string logs = RowOf("logs");
  ASSERT_EQ(e.logs().max_size() % (1 << 20), 0u);
  EXPECT_THAT(logs, ::testing::HasSubstr(absl::StrCat("max_size: ", e.logs().max_size() >> 20, "MB")));
  EXPECT_THAT(logs, ::testing::HasSubstr(absl::StrCat("max_files: ", e.logs().max_files())));
  EXPECT_THAT(RowOf("replicas"), ::testing::HasSubstr(absl::StrCat("| ", e.replicas(), " |")));

  // Probes: Kubernetes' split of start-up and liveness.
  const v1::Engine web = LoadOne("  - name: web\n    command: [x]\n    health: {tcp: {port: 80}}\n");
  const health::HealthPolicy probe = health::HealthPolicyFor(web);
  const std::string health_row = RowOf("health");
  EXPECT_EQ(DurationAfter(health_row, "startup_grace"), probe.startup_grace) << health_row;
  EXPECT_THAT(health_row, ::testing::HasSubstr(
                              absl::StrCat("failure_threshold: ", probe.failure_threshold)));
  const health::HealthPolicy fresh =
      health::HealthPolicyFor(LoadOne("  - name: f\n    command: [x]\n    health: {log_max_age: 1m}\n"));
  EXPECT_THAT(health_row, ::testing::HasSubstr(absl::StrCat(
                              "without one `failure_threshold: ", fresh.failure_threshold, "`")));
}

}  // namespace
}  // namespace fleet
