#include "core/capture/reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace fleet::capture {
namespace {

std::string TempDir() {
  std::string dir = absl::StrCat(getenv("TEST_TMPDIR"), "/reader-XXXXXX");
  EXPECT_NE(::mkdtemp(dir.data()), nullptr);
  return dir;
}

void Write(const std::string& path, absl::string_view text, bool append) {
  std::ofstream out(path, append ? std::ios::app : std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

absl::Time At(int second) { return absl::FromUnixSeconds(1796486700 + second); }

void Append(const std::string& path, Stream stream, int second, absl::string_view chunk) {
  std::string records;
  AppendRecords(stream, At(second), chunk, &records);
  Write(path, records, /*append=*/true);
}

std::vector<std::string> Texts(const std::vector<Line>& lines) {
  std::vector<std::string> out;
  for (const Line& l : lines) out.push_back(l.text);
  return out;
}

using Strings = std::vector<std::string>;

TEST(LogReaderTest, LastJoinsPiecesAndTellsStreamsApart) {
  const std::string log = TempDir() + "/w.0.log";
  Append(log, Stream::kStdout, 1, "a\nb");
  Append(log, Stream::kStderr, 2, "oops\n");
  Append(log, Stream::kStdout, 3, "c\nd\n");
  LogReader reader(log);
  std::vector<Line> lines = reader.Last(10);
  EXPECT_EQ(Texts(lines), (Strings{"a", "oops", "bc", "d"}));
  EXPECT_EQ(lines[1].stream, Stream::kStderr);
  EXPECT_EQ(lines[2].time, At(1));  // A joined line has its first piece's time.
  EXPECT_TRUE(lines[2].time_known);
  EXPECT_EQ(Texts(reader.Last(2)), (Strings{"bc", "d"}));
  EXPECT_TRUE(reader.Last(0).empty());
}

TEST(LogReaderTest, LastReachesIntoTheRotatedFile) {
  const std::string log = TempDir() + "/w.0.log";
  Append(log, Stream::kStdout, 1, "old1\nold2\n");
  ASSERT_EQ(::rename(log.c_str(), (log + ".1").c_str()), 0);
  Append(log, Stream::kStdout, 2, "new\n");
  LogReader reader(log);
  EXPECT_EQ(Texts(reader.Last(2)), (Strings{"old2", "new"}));
  EXPECT_EQ(Texts(reader.Last(1)), (Strings{"new"}));
}

TEST(LogReaderTest, LastOfAManyLineFileReadsOnlyItsEnd) {
  const std::string log = TempDir() + "/w.0.log";
  std::string chunk;
  for (int i = 0; i < 100000; ++i) absl::StrAppend(&chunk, "line ", i, "\n");
  Append(log, Stream::kStdout, 1, chunk);
  LogReader reader(log);
  EXPECT_EQ(Texts(reader.Last(3)), (Strings{"line 99997", "line 99998", "line 99999"}));
  EXPECT_EQ(reader.Last(50000).front().text, "line 50000");
}

TEST(LogReaderTest, FollowSeesAppendsRotationAndTruncation) {
  const std::string log = TempDir() + "/w.0.log";
  LogReader reader(log);
  EXPECT_TRUE(reader.Last(5).empty());  // Not there yet: followed from its start.
  Append(log, Stream::kStdout, 1, "first\n");
  EXPECT_EQ(Texts(reader.Follow(1 << 20)), (Strings{"first"}));
  EXPECT_TRUE(reader.Follow(1 << 20).empty());
  Append(log, Stream::kStdout, 2, "last of old\n");
  ASSERT_EQ(::rename(log.c_str(), (log + ".1").c_str()), 0);
  Append(log, Stream::kStdout, 3, "first of new\n");
  EXPECT_EQ(Texts(reader.Follow(1 << 20)), (Strings{"last of old", "first of new"}));
  ASSERT_EQ(::unlink(log.c_str()), 0);  // Rotated with no copy kept (max_files: 0).
  Append(log, Stream::kStdout, 4, "a much longer first line of the next file\n");
  EXPECT_EQ(Texts(reader.Follow(1 << 20)), (Strings{"a much longer first line of the next file"}));
  ASSERT_EQ(::truncate(log.c_str(), 0), 0);  // By hand.
  EXPECT_TRUE(reader.Follow(1 << 20).empty());
  Append(log, Stream::kStderr, 5, "after truncate\n");
  EXPECT_EQ(Texts(reader.Follow(1 << 20)), (Strings{"after truncate"}));
}

TEST(LogReaderTest, FollowHandsOutAPieceLeftWaiting) {
  const std::string log = TempDir() + "/w.0.log";
  LogReader reader(log);
  reader.Last(0);
  Append(log, Stream::kStdout, 1, "Password: ");
  EXPECT_TRUE(reader.Follow(1 << 20).empty());  // Its line may still come...
  EXPECT_EQ(Texts(reader.Follow(1 << 20)), (Strings{"Password: "}));  // ...it did not.
}

TEST(LogReaderTest, HostileFilesAreBoundedAndNotFollowed) {
  const std::string dir = TempDir();
  const std::string secret = dir + "/secret";
  Write(secret, "root only\n", false);
  ASSERT_EQ(::symlink(secret.c_str(), (dir + "/link.log").c_str()), 0);
  LogReader link(dir + "/link.log");
  EXPECT_TRUE(link.Last(10).empty());
  EXPECT_NE(link.problem().find("symlink"), std::string::npos) << link.problem();

  ASSERT_EQ(::mkfifo((dir + "/fifo.log").c_str(), 0600), 0);
  LogReader fifo(dir + "/fifo.log");
  EXPECT_TRUE(fifo.Last(10).empty());  // Returns: not waiting for a writer.
  EXPECT_NE(fifo.problem().find("not a regular file"), std::string::npos) << fifo.problem();

  // Written straight into the file by a worker: 1 MiB without a newline.
  const std::string raw = dir + "/raw.log";
  Write(raw, std::string(1 << 20, 'x') + "\nplain\n", false);
  LogReader reader(raw);
  std::vector<Line> lines = reader.Last(1000);
  ASSERT_GE(lines.size(), 17u);
  for (const Line& l : lines) EXPECT_LE(l.text.size(), LogReader::kMaxLine + 64);
  EXPECT_EQ(lines.back().text, "plain");
  EXPECT_FALSE(lines.back().time_known);
}

}  // namespace
}  // namespace fleet::capture
