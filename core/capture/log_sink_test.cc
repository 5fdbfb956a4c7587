#include "core/capture/log_sink.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

namespace fleet::capture {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

TEST(LogSinkTest, AppendsAndRotatesKeepingABoundedNumberOfFiles) {
  std::string tmpl = std::string(getenv("TEST_TMPDIR")) + "/sink.XXXXXX";
  std::string dir = mkdtemp(tmpl.data());
  std::string path = dir + "/w.0.log";
  LogSink sink(path, 10, 2);
  sink.Write("aaaa\n");
  sink.Write("bbbb\n");   // 10 bytes: fits exactly.
  EXPECT_EQ(Read(path), "aaaa\nbbbb\n");
  sink.Write("cccc\n");   // Would pass 10: rotate first.
  EXPECT_EQ(Read(path), "cccc\n");
  EXPECT_EQ(Read(path + ".1"), "aaaa\nbbbb\n");
  sink.Write("dddddd\n");
  sink.Write("eeeeee\n");
  sink.Write("ffffff\n");
  EXPECT_EQ(Read(path), "ffffff\n");
  EXPECT_EQ(Read(path + ".1"), "eeeeee\n");
  EXPECT_EQ(Read(path + ".2"), "dddddd\n");
  EXPECT_FALSE(Exists(path + ".3"));
  EXPECT_EQ(sink.dropped_bytes(), 0u);
}

TEST(LogSinkTest, ABigWriteIsSplitAcrossFilesAtLineBoundaries) {
  std::string tmpl = std::string(getenv("TEST_TMPDIR")) + "/sink.XXXXXX";
  std::string dir = mkdtemp(tmpl.data());
  std::string path = dir + "/w.0.log";
  LogSink sink(path, 10, 5);
  sink.Write("aaa\nbbb\nccc\nddd\n");  // 16 bytes at once, cap 10.
  EXPECT_EQ(Read(path + ".1"), "aaa\nbbb\n");
  EXPECT_EQ(Read(path), "ccc\nddd\n");
  sink.Write("0123456789abcdef");  // One line longer than the cap: split.
  EXPECT_EQ(Read(path + ".1"), "0123456789");
  EXPECT_EQ(Read(path), "abcdef");
}

TEST(LogSinkTest, UnwritableDirectoryDropsAndCounts) {
  LogSink sink("/no/such/dir/x.log", 100, 1);
  sink.Write("hello");
  EXPECT_EQ(sink.dropped_bytes(), 5u);
  EXPECT_FALSE(sink.last_error().ok());
}

}  // namespace
}  // namespace fleet::capture
