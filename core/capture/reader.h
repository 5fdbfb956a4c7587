// Reads captured logs (record.h) the way `fleetctl logs` shows them: the
// last N lines, then whatever is written next, across rotation and
// truncation, with the pieces of a long line joined again. The files live
// where workers can write: they are opened without following a symlink or
// waiting on a FIFO, and every read is bounded.
#ifndef FLEET_CORE_CAPTURE_READER_H_
#define FLEET_CORE_CAPTURE_READER_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/capture/record.h"

namespace fleet::capture {

struct Line {
  // When fleetd read it. For a line that is not a record: the time of the
  // record before it (so merged logs keep it in place), time_known false.
  absl::Time time = absl::InfinitePast();
  bool time_known = false;
  Stream stream = Stream::kStdout;
  std::string text;
};

// Joins P records with the next record of their stream, and bounds a line.
class LineJoiner {
 public:
  // One line of a log file, without its newline.
  void Add(absl::string_view raw, std::vector<Line>* out);
  // Hands out pieces still waiting for their continuation.
  void Flush(std::vector<Line>* out);
  // Hands out only pieces that were already waiting at the last call (the
  // writer has had a whole interval to finish the line).
  void FlushStale(std::vector<Line>* out);
  void Reset();

 private:
  struct Pending {
    Line line;
    bool waiting = false;
    bool stale = false;
  };
  Pending pending_[3];
  absl::Time last_time_ = absl::InfinitePast();
};

class LogReader {
 public:
  // The longest line handed out; longer ones come in pieces of this size.
  static constexpr size_t kMaxLine = 64 * 1024;

  explicit LogReader(std::string path);
  ~LogReader();
  LogReader(const LogReader&) = delete;
  LogReader& operator=(const LogReader&) = delete;

  // The last n lines (none for 0), from the live file and, when it holds
  // fewer, from its newest rotated copy (PATH.1). Follow() goes on from the
  // live file's end as it was here.
  std::vector<Line> Last(size_t n);

  // Lines written since the last call, at most about max_bytes of file.
  std::vector<Line> Follow(size_t max_bytes);

  // Why the file cannot be read ("" if it can, or does not exist yet).
  const std::string& problem() const { return problem_; }

 private:
  // Opens path_ safely; -1 (and problem_) when it is not a regular file.
  int OpenSafely(const std::string& path);
  // Reads [offset_, ...) of fd_ into lines; false at end of file.
  bool ReadMore(size_t budget, std::vector<Line>* out, size_t* used);

  std::string path_;
  int fd_ = -1;
  uint64_t inode_ = 0;
  off_t offset_ = 0;
  std::string carry_;  // A line read without its newline yet.
  LineJoiner joiner_;
  std::string problem_;
};

}  // namespace fleet::capture

#endif  // FLEET_CORE_CAPTURE_READER_H_
