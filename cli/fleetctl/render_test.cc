// fleetctl's tables with names one and 64 characters long, no engines,
// thousands of instances and non-ASCII text: nothing throws, and every
// column starts where its header does.
#include "cli/fleetctl/render.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/fleetctl/json_out.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::cli {
namespace {

namespace ctl = ::fleet::control::v1;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kNow = 1'800'000'000'000;

ctl::GetStatusResponse Fleet(const std::vector<std::string>& names, const std::string& type,
                             int replicas) {
  ctl::GetStatusResponse s;
  s.set_fleet("f");
  for (const std::string& name : names) {
    ctl::EngineStatus* e = s.add_engines();
    e->set_name(name);
    e->set_type(type);
    for (int i = 0; i < replicas; ++i) {
      ctl::InstanceStatus* inst = e->add_instances();
      inst->set_id(absl::StrCat(name, "/", i));
      inst->set_state(ctl::INSTANCE_STATE_RUNNING);
      inst->set_reason("running");
      inst->set_pid(1000 + i);
      inst->set_next_run_unix_ms(kNow + 60'000);
    }
  }
  return s;
}

// The display column (code points) where `word` starts in `line`.
size_t ColumnOf(const std::string& line, const std::string& word) {
  const size_t at = line.find(word);
  if (at == std::string::npos) return std::string::npos;
  size_t column = 0;
  for (size_t i = 0; i < at; ++i) column += (static_cast<unsigned char>(line[i]) & 0xC0) != 0x80;
  return column;
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

TEST(RenderTest, ScheduledSectionWithOneCharacterNamesIsAligned) {
  for (const std::string& name :
       {std::string("t"), std::string("gc"), std::string("job"), std::string(64, 'x')}) {
    const std::string out = RenderScheduled(Fleet({name}, "cron", 2), kNow);
    std::vector<std::string> lines = Lines(out);
    ASSERT_EQ(lines.size(), 4u) << out;  // SCHEDULED, header, two rows.
    const size_t last = ColumnOf(lines[1], "LAST RUN");
    const size_t next = ColumnOf(lines[1], "NEXT RUN");
    for (size_t r = 2; r < lines.size(); ++r) {
      EXPECT_EQ(ColumnOf(lines[r], "never ran"), last) << out;
      EXPECT_EQ(ColumnOf(lines[r], "in 1m0s"), next) << out;
    }
  }
}

TEST(RenderTest, StatusOfAnEmptyFleetAndOfThousandsOfInstances) {
  EXPECT_THAT(RenderStatus(Fleet({}, "daemon", 0), false), HasSubstr("INSTANCE"));
  const std::string big = RenderStatus(Fleet({"w"}, "daemon", 5000), false);
  EXPECT_EQ(Lines(big).size(), 5002u);  // The fleetd line, the header, 5000 rows.
  EXPECT_THAT(big, HasSubstr("w/4999"));
}

TEST(RenderTest, NonAsciiTextKeepsColumnsAligned) {
  ctl::GetStatusResponse s = Fleet({"größe", "w"}, "daemon", 1);
  s.mutable_engines(0)->mutable_instances(0)->set_health("übel: Protokoll älter als 20m ⚠");
  const std::vector<std::string> lines = Lines(RenderStatus(s, false));
  ASSERT_EQ(lines.size(), 4u);
  const size_t health = ColumnOf(lines[1], "HEALTH");
  EXPECT_EQ(ColumnOf(lines[2], "übel"), health);
  EXPECT_EQ(ColumnOf(lines[1], "STATE"), ColumnOf(lines[2], "RUNNING"));
  EXPECT_EQ(ColumnOf(lines[1], "STATE"), ColumnOf(lines[3], "RUNNING"));
}

TEST(RenderTest, LongHealthIsClippedOnACharacterBoundary) {
  ctl::GetStatusResponse s = Fleet({"w"}, "daemon", 1);
  s.mutable_engines(0)->mutable_instances(0)->set_health(std::string(30, 'a') + "ééééééééééééééé");
  const std::string out = RenderStatus(s, false);
  EXPECT_THAT(out, HasSubstr(std::string(30, 'a') + "ééééééé..."));
}

TEST(RenderTest, UsageColumnsAndALiveBackoffCountdown) {
  ctl::GetStatusResponse s = Fleet({"w"}, "daemon", 2);
  ctl::InstanceStatus* up = s.mutable_engines(0)->mutable_instances(0);
  up->set_cpu_percent(12.34);
  up->set_rss_bytes(uint64_t{15} << 20);
  ctl::InstanceStatus* down = s.mutable_engines(0)->mutable_instances(1);
  down->set_state(ctl::INSTANCE_STATE_BACKOFF);
  down->set_pid(0);
  down->set_reason("exited with status 1; restart in 8s");
  down->set_next_start_in_ms(3200);
  const std::string out = RenderStatus(s, false);
  EXPECT_THAT(out, HasSubstr("12.3%"));
  EXPECT_THAT(out, HasSubstr("15.0M"));
  EXPECT_THAT(out, HasSubstr("exited with status 1; restart in 3s"));
  EXPECT_THAT(out, Not(HasSubstr("restart in 8s")));
}

TEST(RenderTest, StatusTargetsKeepWhatTheyName) {
  ctl::GetStatusResponse s = Fleet({"a", "b"}, "daemon", 2);
  ASSERT_TRUE(KeepOnly({"b/1", "a"}, &s).ok());
  ASSERT_EQ(s.engines_size(), 2);
  EXPECT_EQ(s.engines(0).instances_size(), 2);
  ASSERT_EQ(s.engines(1).instances_size(), 1);
  EXPECT_EQ(s.engines(1).instances(0).id(), "b/1");
  ctl::GetStatusResponse t = Fleet({"a"}, "daemon", 1);
  EXPECT_EQ(KeepOnly({"nope"}, &t).code(), absl::StatusCode::kNotFound);
}

// fleetctl top: busiest first, cut to the terminal's rows and columns.
TEST(RenderTest, TopFrameIsSortedByCpuAndFitsTheTerminal) {
  ctl::GetStatusResponse s = Fleet({"w"}, "daemon", 30);
  for (int i = 0; i < 30; ++i) {
    s.mutable_engines(0)->mutable_instances(i)->set_cpu_percent(i);
  }
  s.mutable_engines(0)->mutable_instances(3)->set_health(std::string(200, 'h'));
  const std::string frame = RenderTop(s, /*rows=*/10, /*cols=*/60, kNow);
  const std::vector<std::string> lines = absl::StrSplit(frame, '\n');
  ASSERT_EQ(lines.size(), 10u) << frame;  // Summary, blank, header, 6 rows, "... more".
  EXPECT_THAT(lines[3], HasSubstr("w/29"));
  EXPECT_THAT(lines[4], HasSubstr("w/28"));
  EXPECT_THAT(lines[9], HasSubstr("... 24 more"));
  for (const std::string& line : lines) EXPECT_LE(line.size(), 60u) << line;
  EXPECT_THAT(RenderTop(s, 0, 0, kNow), HasSubstr("30 running"));
}

// -o json: numbers stay numbers up to 2^53, enums are short words, strings
// are escaped, and an event is one line (JSON lines for `events -o json`).
TEST(JsonOutTest, NumbersEnumsAndLines) {
  ctl::GetStatusResponse s = Fleet({"w"}, "daemon", 1);
  ctl::InstanceStatus* i = s.mutable_engines(0)->mutable_instances(0);
  i->set_uptime_ms(int64_t{1} << 40);
  i->set_reason("say \"hi\"\n\x01");
  s.mutable_daemon()->set_rss_bytes(uint64_t{1} << 60);  // Past 2^53: a string.
  const std::string json = OperatorJson(s);
  EXPECT_THAT(json, HasSubstr("\"uptime_ms\": 1099511627776"));
  EXPECT_THAT(json, HasSubstr("\"state\": \"running\""));
  EXPECT_THAT(json, HasSubstr("\"rss_bytes\": \"1152921504606846976\""));
  EXPECT_THAT(json, HasSubstr("\"reason\": \"say \\\"hi\\\"\\n\\u0001\""));
  ctl::Event e;
  e.set_seq(7);
  e.set_kind("exited");
  const std::string line = OperatorJson(e, /*one_line=*/true);
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
  EXPECT_THAT(line, HasSubstr("\"seq\":7"));
}

}  // namespace
}  // namespace fleet::cli
