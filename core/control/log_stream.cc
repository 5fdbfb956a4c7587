#include "core/control/log_stream.h"

#include <algorithm>
#include <memory>

#include "absl/time/clock.h"
#include "core/capture/reader.h"

namespace fleet::control {
namespace {

namespace ctl = ::fleet::control::v1;

constexpr absl::Duration kFollowEvery = absl::Milliseconds(100);
// One message carries about this much text.
constexpr size_t kChunkBytes = 256 << 10;
// What one follow round reads of all the files together, shared out.
constexpr size_t kRoundBytes = 8 << 20;
constexpr size_t kMinReaderBytes = 64 << 10;

struct Tagged {
  size_t instance;  // Index into logs.
  capture::Line line;
};

ctl::LogStream ToProto(capture::Stream stream) {
  switch (stream) {
    case capture::Stream::kStdout:
      return ctl::LOG_STREAM_STDOUT;
    case capture::Stream::kStderr:
      return ctl::LOG_STREAM_STDERR;
    case capture::Stream::kFleet:
      return ctl::LOG_STREAM_FLEET;
  }
  return ctl::LOG_STREAM_STDOUT;
}

// Sends lines (merged by time, each instance's order kept) in bounded
// messages; chunk may already hold the instance list. False once the
// client is gone.
bool Send(std::vector<Tagged> lines, const std::vector<std::pair<std::string, std::string>>& logs,
          ctl::LogChunk chunk, grpc::ServerWriter<ctl::LogChunk>* writer) {
  std::stable_sort(lines.begin(), lines.end(), [](const Tagged& a, const Tagged& b) {
    return a.line.time < b.line.time;
  });
  size_t bytes = 0;
  for (Tagged& t : lines) {
    ctl::LogLine* out = chunk.add_lines();
    out->set_instance(logs[t.instance].first);
    if (t.line.time_known) out->set_unix_micros(absl::ToUnixMicros(t.line.time));
    out->set_stream(ToProto(t.line.stream));
    bytes += t.line.text.size();
    out->set_text(std::move(t.line.text));
    if (bytes >= kChunkBytes) {
      if (!writer->Write(chunk)) return false;
      chunk.Clear();
      bytes = 0;
    }
  }
  if (chunk.lines_size() == 0 && chunk.instances_size() == 0) return true;
  return writer->Write(chunk);
}

// A file that cannot be read is said in the log's place, once per problem.
void NoteProblem(const capture::LogReader& reader, size_t instance, std::string* said,
                 std::vector<Tagged>* out) {
  if (reader.problem() == *said) return;
  *said = reader.problem();
  if (said->empty()) return;
  capture::Line line;
  line.time = absl::Now();
  line.time_known = true;
  line.stream = capture::Stream::kFleet;
  line.text = "cannot show this log: " + *said;
  out->push_back({instance, std::move(line)});
}

}  // namespace

grpc::Status StreamLogs(const std::vector<std::pair<std::string, std::string>>& logs,
                        const ctl::GetLogsRequest& request, grpc::ServerContext* context,
                        grpc::ServerWriter<ctl::LogChunk>* writer,
                        const std::function<bool()>& stop) {
  std::vector<std::unique_ptr<capture::LogReader>> readers;
  std::vector<std::string> problems(logs.size());
  std::vector<Tagged> lines;
  for (size_t i = 0; i < logs.size(); ++i) {
    readers.push_back(std::make_unique<capture::LogReader>(logs[i].second));
    for (capture::Line& line : readers[i]->Last(request.lines())) {
      lines.push_back({i, std::move(line)});
    }
    NoteProblem(*readers[i], i, &problems[i], &lines);
  }
  ctl::LogChunk first;
  for (const auto& [id, path] : logs) first.add_instances(id);
  if (!Send(std::move(lines), logs, std::move(first), writer)) return grpc::Status::OK;
  if (!request.follow()) return grpc::Status::OK;
  const size_t budget = std::max(kMinReaderBytes, kRoundBytes / std::max<size_t>(1, logs.size()));
  while (!context->IsCancelled() && !stop()) {
    absl::SleepFor(kFollowEvery);
    lines.clear();
    for (size_t i = 0; i < readers.size(); ++i) {
      for (capture::Line& line : readers[i]->Follow(budget)) lines.push_back({i, std::move(line)});
      NoteProblem(*readers[i], i, &problems[i], &lines);
    }
    if (!Send(std::move(lines), logs, ctl::LogChunk(), writer)) break;
  }
  return grpc::Status::OK;
}

}  // namespace fleet::control
