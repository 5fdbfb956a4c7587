#include "core/supervisor/log_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace fleet::supervisor {

LogSink::LogSink(std::string path, uint64_t max_size, uint32_t max_files)
    : path_(std::move(path)), max_size_(max_size), max_files_(max_files) {}

LogSink::~LogSink() {
  if (fd_ >= 0) ::close(fd_);
}

void LogSink::SetLimits(uint64_t max_size, uint32_t max_files) {
  max_size_ = max_size;
  max_files_ = max_files;
}

bool LogSink::EnsureOpen() {
  if (fd_ >= 0) return true;
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) {
    last_error_ = absl::ErrnoToStatus(errno, absl::StrCat("open ", path_));
    return false;
  }
  struct stat st;
  size_ = ::fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  return true;
}

void LogSink::Rotate() {
  ::close(fd_);
  fd_ = -1;
  if (max_files_ == 0) {
    ::truncate(path_.c_str(), 0);
    return;
  }
  // Oldest first: .K-1 -> .K, ..., live -> .1. A missing file is fine.
  for (uint32_t i = max_files_; i > 1; --i) {
    ::rename(absl::StrCat(path_, ".", i - 1).c_str(), absl::StrCat(path_, ".", i).c_str());
  }
  ::rename(path_.c_str(), absl::StrCat(path_, ".1").c_str());
}

void LogSink::Write(absl::string_view data) {
  if (data.empty()) return;
  if (!EnsureOpen()) {
    dropped_bytes_ += data.size();
    return;
  }
  if (size_ > 0 && size_ + data.size() > max_size_) {
    Rotate();
    if (!EnsureOpen()) {
      dropped_bytes_ += data.size();
      return;
    }
  }
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      last_error_ = absl::ErrnoToStatus(errno, absl::StrCat("write ", path_));
      dropped_bytes_ += data.size();
      return;
    }
    size_ += static_cast<uint64_t>(n);
    data.remove_prefix(static_cast<size_t>(n));
  }
  last_error_ = absl::OkStatus();
}

}  // namespace fleet::supervisor
