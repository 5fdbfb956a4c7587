// Reading a file that someone else can write: a worker's output, a state or
// protected file, a bus record, a heartbeat. Such a path may be a FIFO (a
// plain open() waits forever for a writer), a symlink (to /dev/zero, which
// never ends, or to a file the reader may see and the writer may not), or
// huge. ReadUntrustedFile opens it without blocking and without following a
// symlink, checks the open descriptor (not the path, which can change
// between a stat and an open) is a regular file, and reads at most `limit`
// bytes. Header-only and std-only, for plugins and fleetd alike.
#ifndef FLEET_PLUGINS_SDK_UNTRUSTED_FILE_H_
#define FLEET_PLUGINS_SDK_UNTRUSTED_FILE_H_

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>

namespace fleet::sdk {

enum class ReadError {
  kNone,
  kOpen,        // errno says why (ENOENT: it does not exist).
  kSymlink,     // The last component is a symlink: not followed.
  kNotRegular,  // A FIFO, a device, a directory, a socket.
  kTooLarge,    // More than `limit` bytes; content holds the first `limit`.
  kRead,        // errno says why.
};

struct UntrustedRead {
  ReadError error = ReadError::kNone;
  int saved_errno = 0;
  std::string content;
  // "PATH is a symlink; not followed", "open PATH: No such file...", ...
  std::string message;
  bool ok() const { return error == ReadError::kNone; }
};

// Opens `path` (relative to dir_fd; AT_FDCWD for the working directory)
// for reading: a regular file, not through a symlink, never waiting on a
// FIFO. The descriptor is blocking again when returned; -1 with *r's error
// and message otherwise.
// follow_symlinks: for a path the operator named (a config may well be a
// symlink); everything else stays as above.
inline int OpenUntrustedFileAt(int dir_fd, const std::string& path, UntrustedRead* r,
                               bool follow_symlinks = false) {
  const int fd = ::openat(dir_fd, path.c_str(),
                          O_RDONLY | O_NONBLOCK | (follow_symlinks ? 0 : O_NOFOLLOW) | O_CLOEXEC);
  if (fd < 0) {
    r->saved_errno = errno;
    r->error = errno == ELOOP ? ReadError::kSymlink : ReadError::kOpen;
    r->message = errno == ELOOP ? path + " is a symlink; not followed"
                                : "open " + path + ": " + ::strerror(errno);
    return -1;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    r->error = ReadError::kNotRegular;
    r->message = path + " is not a regular file; not read";
    return -1;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

// The whole file, at most `limit` bytes (see ReadError::kTooLarge).
inline UntrustedRead ReadUntrustedFileAt(int dir_fd, const std::string& path, size_t limit,
                                         bool follow_symlinks = false) {
  UntrustedRead r;
  const int fd = OpenUntrustedFileAt(dir_fd, path, &r, follow_symlinks);
  if (fd < 0) return r;
  struct stat st;
  if (::fstat(fd, &st) == 0) {
    r.content.reserve(std::min(static_cast<size_t>(st.st_size), limit));
  }
  char buffer[65536];
  for (;;) {
    // One byte past the limit tells "exactly the limit" from "more".
    const size_t want = std::min(sizeof(buffer), limit + 1 - r.content.size());
    const ssize_t n = ::read(fd, buffer, want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      r.saved_errno = errno;
      r.error = ReadError::kRead;
      r.message = "read " + path + ": " + ::strerror(errno);
      r.content.clear();
      break;
    }
    if (n == 0) break;
    r.content.append(buffer, static_cast<size_t>(n));
    if (r.content.size() > limit) {
      r.content.resize(limit);  // For a caller that wants the head.
      r.error = ReadError::kTooLarge;
      r.message = path + " is larger than " + std::to_string(limit) + " bytes; not read";
      break;
    }
  }
  ::close(fd);
  return r;
}

inline UntrustedRead ReadUntrustedFile(const std::string& path, size_t limit) {
  return ReadUntrustedFileAt(AT_FDCWD, path, limit);
}

}  // namespace fleet::sdk

#endif  // FLEET_PLUGINS_SDK_UNTRUSTED_FILE_H_
