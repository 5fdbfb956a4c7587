// Captured logs: whatever a worker prints becomes records that read back as
// exactly what it printed, and any bytes in a log file (a worker can write
// there directly) parse without harm into bounded lines.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "core/capture/reader.h"
#include "core/capture/record.h"

namespace {

using fleet::capture::Line;
using fleet::capture::LineJoiner;
using fleet::capture::LogReader;
using fleet::capture::Stream;

std::vector<Line> Join(absl::string_view file) {
  LineJoiner joiner;
  std::vector<Line> lines;
  if (file.empty()) return lines;
  if (file.back() == '\n') file.remove_suffix(1);
  for (absl::string_view raw : absl::StrSplit(file, '\n')) joiner.Add(raw, &lines);
  joiner.Flush(&lines);
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  // As a log file's content.
  for (const Line& line : Join(bytes)) {
    if (line.text.size() > LogReader::kMaxLine + bytes.size()) abort();
  }
  // As output: split into the chunks a pipe might give, stored, read back.
  std::string file;
  const absl::Time at = absl::FromUnixMicros(1796486719123456);
  for (size_t start = 0, chunk = 1; start < size; start += chunk, chunk = chunk * 2 + 1) {
    fleet::capture::AppendRecords(start % 2 ? Stream::kStderr : Stream::kStdout, at,
                                  bytes.substr(start, chunk), &file);
  }
  std::string out, err;
  for (const Line& line : Join(file)) {
    if (line.time != at || !line.time_known) abort();
    (line.stream == Stream::kStderr ? err : out) += line.text + "\n";
  }
  // Each stream's text, line by line, is what was written to it (the
  // joined lines end in newlines the bytes may not have had at the end).
  std::string want_out, want_err;
  for (size_t start = 0, chunk = 1; start < size; start += chunk, chunk = chunk * 2 + 1) {
    (start % 2 ? want_err : want_out) += std::string(bytes.substr(start, chunk));
  }
  auto ended = [](std::string text) {
    if (!text.empty() && text.back() != '\n') text += '\n';
    return text;
  };
  if (size < LogReader::kMaxLine && (out != ended(want_out) || err != ended(want_err))) abort();
  return 0;
}
