#include "core/capture/log_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/os/env.h"

namespace fleet::capture {

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
  // The logs directory is one a worker can write to: a symlink planted at
  // the log's name is not written through, a FIFO is not waited on.
  fd_ = os::CurrentEnv()->Open(path_.c_str(),
               O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    last_error_ = errno == ELOOP
                      ? absl::FailedPreconditionError(
                            absl::StrCat(path_, " is a symlink; fleetd does not write through it"))
                      : absl::ErrnoToStatus(errno, absl::StrCat("open ", path_));
    return false;
  }
  struct stat st;
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    last_error_ = absl::FailedPreconditionError(
        absl::StrCat(path_, " is not a regular file; fleetd does not write to it"));
    return false;
  }
  ::fcntl(fd_, F_SETFL, O_WRONLY | O_APPEND);  // Regular file: blocking is fine.
  size_ = static_cast<uint64_t>(st.st_size);
  inode_ = st.st_ino;
  return true;
}

bool LogSink::ReopenIfReplaced() {
  if (fd_ < 0) return false;
  struct stat open_file, at_path;
  const bool gone = ::fstat(fd_, &open_file) == 0 && open_file.st_nlink == 0;
  const bool replaced = ::lstat(path_.c_str(), &at_path) != 0 || at_path.st_ino != inode_;
  if (!gone && !replaced) return false;
  ::close(fd_);
  fd_ = -1;
  return true;  // The next write creates (or refuses) the file at path_.
}

void LogSink::Rotate() {
  ::close(fd_);
  fd_ = -1;
  if (max_files_ == 0) {
    // Unlinked, not truncated: a new file (a new inode) is what tells
    // `fleetctl logs -f` to start again at the top; a truncated file soon
    // written past the reader's offset would look like more of the old one.
    os::CurrentEnv()->Unlink(path_.c_str());
    return;
  }
  // Oldest first: .K-1 -> .K, ..., live -> .1. A missing file is fine.
  for (uint32_t i = max_files_; i > 1; --i) {
    os::CurrentEnv()->Rename(absl::StrCat(path_, ".", i - 1).c_str(), absl::StrCat(path_, ".", i).c_str());
  }
  os::CurrentEnv()->Rename(path_.c_str(), absl::StrCat(path_, ".1").c_str());
}

void LogSink::Write(absl::string_view data) {
  if (paused_) {
    dropped_bytes_ += data.size();
    return;
  }
  while (!data.empty()) {
    if (!EnsureOpen()) {
      dropped_bytes_ += data.size();
      return;
    }
    // Fill this file up to max_size, ending on a line boundary when one fits,
    // so no file passes the cap and lines rarely straddle two files.
    uint64_t room = size_ < max_size_ ? max_size_ - size_ : 0;
    size_t take = static_cast<size_t>(std::min<uint64_t>(room, data.size()));
    if (take < data.size()) {
      size_t newline = data.substr(0, take).rfind('\n');
      if (newline != absl::string_view::npos) {
        take = newline + 1;
      } else if (size_ > 0) {
        take = 0;  // The next line does not fit: start a new file for it.
      }
    }
    if (take == 0) {
      Rotate();
      continue;
    }
    if (!WriteAll(data.substr(0, take))) {
      dropped_bytes_ += data.size();
      return;
    }
    data.remove_prefix(take);
  }
  last_error_ = absl::OkStatus();
}

bool LogSink::WriteAll(absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = os::CurrentEnv()->Write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      last_error_ = absl::ErrnoToStatus(errno, absl::StrCat("write ", path_));
      return false;
    }
    size_ += static_cast<uint64_t>(n);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace fleet::capture
