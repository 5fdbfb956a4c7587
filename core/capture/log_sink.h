// An instance's captured output: appended to logs/ENGINE.N.log and rotated by
// size (ENGINE.N.log.1 ... .K), without ever touching the process.
#ifndef FLEET_CORE_CAPTURE_LOG_SINK_H_
#define FLEET_CORE_CAPTURE_LOG_SINK_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace fleet::capture {

// Not thread-safe: supervisor thread only.
class LogSink {
 public:
  // max_files: rotated files kept besides the live one (0: truncate instead).
  LogSink(std::string path, uint64_t max_size, uint32_t max_files);
  ~LogSink();
  LogSink(const LogSink&) = delete;
  LogSink& operator=(const LogSink&) = delete;

  // Appends data, rotating first when it would pass max_size. A failed write
  // (disk full) drops the data and counts it; the next write tries again.
  void Write(absl::string_view data);
  void SetLimits(uint64_t max_size, uint32_t max_files);
  // Paused (the disk is nearly full): output is dropped and counted, the
  // file is left as it is.
  void SetPaused(bool paused) { paused_ = paused; }

  // When the live log was deleted (rm logs/x.0.log) or replaced since it
  // was opened, closes it so the next write starts a fresh file at the
  // path; true if so. Output written to a deleted file reaches nobody.
  bool ReopenIfReplaced();
  // The file it has open (0: none), for a check of its path made elsewhere.
  uint64_t open_inode() const { return fd_ >= 0 ? inode_ : 0; }

  const std::string& path() const { return path_; }
  uint64_t dropped_bytes() const { return dropped_bytes_; }
  // The last write error, or OK.
  const absl::Status& last_error() const { return last_error_; }

 private:
  bool EnsureOpen();
  void Rotate();
  // Writes all of data to the open file; false (and last_error_) on failure.
  bool WriteAll(absl::string_view data);

  std::string path_;
  uint64_t max_size_;
  uint32_t max_files_;
  int fd_ = -1;
  uint64_t inode_ = 0;  // Of the file fd_ has open.
  uint64_t size_ = 0;
  uint64_t dropped_bytes_ = 0;
  absl::Status last_error_;
  bool paused_ = false;
};

}  // namespace fleet::capture

#endif  // FLEET_CORE_CAPTURE_LOG_SINK_H_
