#include "core/capture/record.h"

#include <string>

#include "gtest/gtest.h"

namespace fleet::capture {
namespace {

const absl::Time kAt = absl::FromUnixMicros(1796486719123456);  // 2026-12-05T16:05:19.123456Z

TEST(RecordTest, EachLineIsARecordAndTheTailAPiece) {
  std::string out;
  AppendRecords(Stream::kStderr, kAt, "one\n\ntwo\nthr", &out);
  EXPECT_EQ(out,
            "2026-12-05T16:05:19.123456Z stderr F one\n"
            "2026-12-05T16:05:19.123456Z stderr F \n"
            "2026-12-05T16:05:19.123456Z stderr F two\n"
            "2026-12-05T16:05:19.123456Z stderr P thr\n");
}

TEST(RecordTest, RoundTrips) {
  std::string out;
  AppendRecords(Stream::kStdout, kAt, "x y\tz\r\n", &out);
  out.pop_back();
  const Record r = ParseRecord(out);
  EXPECT_EQ(r.time, kAt);
  EXPECT_EQ(r.stream, Stream::kStdout);
  EXPECT_FALSE(r.partial);
  EXPECT_EQ(r.text, "x y\tz\r");
}

TEST(RecordTest, MarkersAreOneLine) {
  std::string out;
  AppendMarker(kAt, "started\npid 7", &out);
  EXPECT_EQ(out, "2026-12-05T16:05:19.123456Z fleet F started pid 7\n");
  out.pop_back();
  const Record r = ParseRecord(out);
  EXPECT_EQ(r.stream, Stream::kFleet);
  EXPECT_EQ(r.text, "started pid 7");
}

TEST(RecordTest, AnythingElseIsUntimedStdout) {
  for (absl::string_view line :
       {"", "plain text", "2026-12-05T16:05:19.123456Z", "2026-12-05T16:05:19.123456Z stdin F x",
        "2026-02-31T16:05:19.123456Z stdout F x", "2026-12-05T15:25:19.12345xZ stdout F x",
        "2026-12-05T16:05:19.123456Z stdout X x", "2026-12-05T16:05:19.123456Z stdout Fx"}) {
    const Record r = ParseRecord(line);
    EXPECT_EQ(r.time, absl::InfinitePast()) << line;
    EXPECT_EQ(r.stream, Stream::kStdout) << line;
    EXPECT_EQ(r.text, line);
  }
  const Record empty = ParseRecord("2026-12-05T16:05:19.123456Z stdout F");
  EXPECT_EQ(empty.time, kAt);
  EXPECT_EQ(empty.text, "");
}

}  // namespace
}  // namespace fleet::capture
