#include "core/supervisor/event_journal.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::supervisor {
namespace {

using ::testing::HasSubstr;
namespace ctl = ::fleet::control::v1;

ctl::Event AnEvent(uint64_t seq, const std::string& message) {
  ctl::Event e;
  e.set_seq(seq);
  e.set_unix_ms(1796541134123);
  e.set_severity("info");
  e.set_subject("w/0");
  e.set_kind("started");
  e.set_message(message);
  return e;
}

std::string Read(const std::string& path) {
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  return text.str();
}

TEST(EventJournalTest, OneJsonLinePerEventWithWhateverItQuotesEscaped) {
  EXPECT_EQ(EventJournal::Line(AnEvent(12, "pid 4242")),
            "{\"v\":1,\"seq\":12,\"time\":\"2026-12-06T07:12:14.123Z\",\"unix_ms\":1796541134123,"
            "\"severity\":\"info\",\"subject\":\"w/0\",\"kind\":\"started\",\"message\":\"pid "
            "4242\"}\n");
  const std::string hostile = EventJournal::Line(AnEvent(1, "a\"b\\c\nd\x01\xff"));
  EXPECT_THAT(hostile, HasSubstr("\"message\":\"a\\\"b\\\\c\\nd\\u0001\\ufffd\"}\n"));
  EXPECT_EQ(std::count(hostile.begin(), hostile.end(), '\n'), 1);
}

TEST(EventJournalTest, WrittenOffTheCallersThreadInOrderAndRotatedBySize) {
  const std::string dir = getenv("TEST_TMPDIR");
  const std::string path = dir + "/events.jsonl";
  {
    EventJournal journal(path, /*max_size=*/1000, /*max_files=*/2);
    for (uint64_t i = 1; i <= 30; ++i) journal.Append(AnEvent(i, absl::StrCat("event ", i)));
  }  // Drained as it goes.
  const std::string live = Read(path);
  const std::string rotated = Read(path + ".1");
  EXPECT_FALSE(rotated.empty());
  EXPECT_LE(live.size(), 1000u);
  // The newest is last in the live file; the lines before it are in order.
  EXPECT_THAT(live, HasSubstr("\"seq\":30,"));
  std::vector<std::string> lines = absl::StrSplit(rotated + live, '\n', absl::SkipEmpty());
  ASSERT_GT(lines.size(), 5u);
  uint64_t last = 0;
  for (const std::string& line : lines) {
    const size_t at = line.find("\"seq\":") + 6;
    const uint64_t seq = std::stoull(line.substr(at, line.find(',', at) - at));
    EXPECT_GT(seq, last) << line;
    last = seq;
  }
  EXPECT_THAT(lines.back(), HasSubstr("\"message\":\"event 30\""));
}

}  // namespace
}  // namespace fleet::supervisor
