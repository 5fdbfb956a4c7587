// The exported Nomad jobs against the job specification's documented
// fields (there is no Nomad here to submit them to): every key is one the
// jobs API documents for its stanza, required ones are there, enums take
// documented values, durations are whole nanoseconds, cron specs parse.
#include "core/export/nomad.h"

#include <map>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/export/command_output.h"
#include "core/schedule/cron.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace fleet::exporting {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;
using ::testing::Contains;
using ::testing::HasSubstr;

// https://developer.hashicorp.com/nomad/api-docs/json-jobs: the fields of
// each stanza fleet may write (a subset of what Nomad takes).
const std::map<std::string, std::set<std::string>>& Documented() {
  static const auto* fields = new std::map<std::string, std::set<std::string>>{
      {"Job",
       {"ID", "Name", "Type", "Datacenters", "TaskGroups", "Periodic", "Namespace", "Region",
        "Priority", "Meta"}},
      {"TaskGroup",
       {"Name", "Count", "RestartPolicy", "ReschedulePolicy", "Tasks", "Services", "Networks",
        "Meta"}},
      {"Task",
       {"Name", "Driver", "Config", "Env", "KillSignal", "KillTimeout", "Services", "Resources",
        "User", "Meta", "Lifecycle"}},
      {"Lifecycle", {"Hook", "Sidecar"}},
      {"RestartPolicy", {"Attempts", "Interval", "Delay", "Mode"}},
      {"ReschedulePolicy",
       {"Attempts", "Interval", "Delay", "DelayFunction", "MaxDelay", "Unlimited"}},
      {"Periodic", {"Enabled", "SpecType", "Spec", "Specs", "ProhibitOverlap", "TimeZone"}},
      {"Service", {"Name", "Provider", "Checks", "PortLabel", "Tags"}},
      {"Check",
       {"Name", "Type", "Interval", "Timeout", "Path", "PortLabel", "Command", "Args", "Protocol",
        "Method"}},
      {"RawExecConfig", {"command", "args"}},
  };
  return *fields;
}

// Problems with obj as stanza `kind`, one line each, recursively.
void Check(const std::string& kind, const Struct& obj, const std::string& where,
           std::vector<std::string>* problems) {
  const std::set<std::string>& allowed = Documented().at(kind);
  for (const auto& [key, value] : obj.fields()) {
    if (!allowed.count(key)) problems->push_back(absl::StrCat(where, ": ", kind, " has no ", key));
  }
  auto need = [&](const std::string& key) {
    if (!obj.fields().count(key))
      problems->push_back(absl::StrCat(where, ": ", kind, " needs ", key));
  };
  auto whole = [&](const std::string& key) {
    auto it = obj.fields().find(key);
    if (it == obj.fields().end()) return;
    const double v = it->second.number_value();
    if (it->second.kind_case() != Value::kNumberValue || v < 0 || v != static_cast<int64_t>(v)) {
      problems->push_back(absl::StrCat(where, ": ", kind, ".", key, " is not a whole number"));
    }
  };
  auto one_of = [&](const std::string& key, std::set<std::string> values) {
    auto it = obj.fields().find(key);
    if (it != obj.fields().end() && !values.count(it->second.string_value())) {
      problems->push_back(
          absl::StrCat(where, ": ", kind, ".", key, " = ", it->second.string_value()));
    }
  };
  auto each = [&](const std::string& key, const std::string& child) {
    auto it = obj.fields().find(key);
    if (it == obj.fields().end()) return;
    int i = 0;
    for (const Value& v : it->second.list_value().values()) {
      Check(child, v.struct_value(), absl::StrCat(where, ".", key, "[", i++, "]"), problems);
    }
  };
  auto sub = [&](const std::string& key, const std::string& child) {
    auto it = obj.fields().find(key);
    if (it != obj.fields().end())
      Check(child, it->second.struct_value(), where + "." + key, problems);
  };
  if (kind == "Job") {
    need("ID");
    need("Type");
    need("TaskGroups");
    one_of("Type", {"service", "batch", "system", "sysbatch"});
    each("TaskGroups", "TaskGroup");
    sub("Periodic", "Periodic");
  } else if (kind == "TaskGroup") {
    need("Name");
    need("Tasks");
    whole("Count");
    sub("RestartPolicy", "RestartPolicy");
    sub("ReschedulePolicy", "ReschedulePolicy");
    each("Tasks", "Task");
  } else if (kind == "Task") {
    need("Name");
    need("Driver");
    one_of("Driver", {"raw_exec", "exec", "docker", "java", "qemu"});
    whole("KillTimeout");
    sub("Config", "RawExecConfig");
    each("Services", "Service");
    sub("Lifecycle", "Lifecycle");
  } else if (kind == "Lifecycle") {
    need("Hook");
    one_of("Hook", {"prestart", "poststart", "poststop"});
  } else if (kind == "RestartPolicy") {
    one_of("Mode", {"delay", "fail"});
    for (const char* k : {"Attempts", "Interval", "Delay"}) whole(k);
  } else if (kind == "Periodic") {
    need("Spec");
    one_of("SpecType", {"cron"});
    auto spec = obj.fields().find("Spec");
    if (spec != obj.fields().end() &&
        !schedule::Schedule::Parse(spec->second.string_value()).ok()) {
      problems->push_back(
          absl::StrCat(where, ": Spec ", spec->second.string_value(), " is not a cron expression"));
    }
  } else if (kind == "Service") {
    need("Name");
    one_of("Provider", {"nomad", "consul"});
    each("Checks", "Check");
  } else if (kind == "Check") {
    need("Type");
    one_of("Type", {"http", "tcp", "script", "grpc"});
    whole("Interval");
    whole("Timeout");
  }
}

std::vector<std::string> Problems(const Exported& exported) {
  std::vector<std::string> problems;
  for (const ExportedFile& f : exported.files) {
    Struct doc;
    if (!google::protobuf::util::JsonStringToMessage(f.text, &doc).ok() ||
        !doc.fields().count("Job")) {
      problems.push_back(f.name + ": not a {\"Job\": ...} document");
      continue;
    }
    Check("Job", doc.fields().at("Job").struct_value(), f.name, &problems);
  }
  return problems;
}

constexpr char kFleet[] = R"(name: mixed
run_dir: run
state:
  remote: https://git.example/state.git
engines:
  - name: keeper
    command: [/srv/keep]
    state: true
    kill_condition: "loss > $10"
  - name: web
    command: [/srv/serve]
    replicas: 2
    health: {http: {port: 8080, path: /healthz}}
  - name: beat
    shell: 'while :; do touch hb; sleep 5; done'
    health: {heartbeat_path: hb, heartbeat_max_age: 30s}
  - name: once
    command: [/bin/true]
    restart: never
    health: {tcp: {port: 9000}}
  - name: nightly
    type: cron
    schedule: "0 3 * * *"
    timezone: Europe/Berlin
    command: [/bin/true]
    overlap: replace
  - name: often
    type: cron
    schedule: "@every 5m"
    command: [/bin/true]
)";

TEST(NomadTest, EveryJobUsesOnlyDocumentedFields) {
  absl::StatusOr<config::LoadedConfig> loaded =
      config::LoadConfigFromString(kFleet, "/srv/mixed/fleet.yaml", "/srv/mixed");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  absl::StatusOr<Exported> refused = ExportNomad(*loaded, {});
  ASSERT_FALSE(refused.ok());  // @every 5m is not a cron slot.
  EXPECT_THAT(refused.status().message(), HasSubstr("--approximate"));
  absl::StatusOr<Exported> exported = ExportNomad(*loaded, {/*approximate=*/true});
  ASSERT_TRUE(exported.ok()) << exported.status();
  EXPECT_THAT(Problems(*exported), ::testing::IsEmpty());
  ASSERT_EQ(exported->files.size(), 3u);  // the service job, two periodic ones
  const std::string& service = exported->files[0].text;
  EXPECT_THAT(service, HasSubstr("\"Count\": 2"));
  EXPECT_THAT(service, HasSubstr("FLEET_INSTANCE=\\\"$NOMAD_ALLOC_INDEX\\\""));
  EXPECT_THAT(service, HasSubstr("\"Type\": \"http\""));
  EXPECT_THAT(service, HasSubstr("\"Provider\": \"consul\""));  // fleetctl probe: a script check
  const std::string* found = exported->Find("mixed-nightly.nomad.json");
  ASSERT_NE(found, nullptr);
  const std::string& nightly = *found;
  EXPECT_THAT(nightly, HasSubstr("\"TimeZone\": \"Europe/Berlin\""));
  EXPECT_THAT(nightly, HasSubstr("\"ProhibitOverlap\": false"));
  EXPECT_THAT(exported->warnings, Contains(HasSubstr("engine often: approximate")));
  // State: a prestart task pulls, a prestart sidecar publishes, the task
  // pulls before each start; the kill condition by fleetd kill-watch.
  EXPECT_THAT(service, HasSubstr("\"Name\": \"state-pull\""));
  EXPECT_THAT(service, HasSubstr("\"Sidecar\": true"));
  EXPECT_THAT(service, HasSubstr("fleetd sync-state pull --dir '${NOMAD_ALLOC_DIR}/state/tree'"));
  EXPECT_THAT(service, HasSubstr("\"FLEET_STATE_DIR\": \"${NOMAD_ALLOC_DIR}/state/tree\""));
  EXPECT_THAT(service, HasSubstr("\"kill-watch\""));
  EXPECT_THAT(service, HasSubstr("\"${NOMAD_ALLOC_DIR}/kill/stopped\""));
  EXPECT_THAT(exported->warnings, Contains(HasSubstr("engine nightly: overlap")));
}

TEST(NomadTest, TheDemoFleetExports) {
  const std::string real = RunfileRealPath("demo/fleet.yaml");
  ASSERT_NE(real, "");
  absl::StatusOr<config::LoadedConfig> loaded = config::LoadConfig(real);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  absl::StatusOr<Exported> exported = ExportNomad(*loaded, {/*approximate=*/true});
  ASSERT_TRUE(exported.ok()) << exported.status();
  EXPECT_THAT(Problems(*exported), ::testing::IsEmpty());
}

TEST(NomadTest, AnUndocumentedFieldIsCaught) {
  Struct job;
  (*job.mutable_fields())["ID"].set_string_value("x");
  (*job.mutable_fields())["Type"].set_string_value("servce");
  (*job.mutable_fields())["Taskgroups"].set_string_value("");
  std::vector<std::string> problems;
  Check("Job", job, "j", &problems);
  EXPECT_THAT(problems, Contains(HasSubstr("Job has no Taskgroups")));
  EXPECT_THAT(problems, Contains(HasSubstr("Job.Type = servce")));
  EXPECT_THAT(problems, Contains(HasSubstr("Job needs TaskGroups")));
}

}  // namespace
}  // namespace fleet::exporting
