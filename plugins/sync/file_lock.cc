#include "plugins/sync/file_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace fleet::plugins::sync {
namespace {

double NowMs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

}  // namespace

FileLock::FileLock(const std::string& path, int timeout_ms) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    error_ = "open lock " + path + ": " + std::strerror(errno);
    return;
  }
  const double start = NowMs();
  // Polled rather than blocking, so the wait is bounded; the poll interval
  // grows from 0.5ms to 10ms so a short hold costs little latency.
  for (useconds_t pause = 500; ::flock(fd_, LOCK_EX | LOCK_NB) != 0;
       pause = std::min<useconds_t>(pause * 2, 10000)) {
    contended_ = true;
    if (errno != EWOULDBLOCK && errno != EINTR) {
      error_ = "lock " + path + ": " + std::strerror(errno);
      return;
    }
    if (NowMs() - start >= timeout_ms) {
      error_ = "lock " + path + " held by another process for over " +
               std::to_string(timeout_ms / 1000) + "s";
      return;
    }
    ::usleep(pause);
  }
  waited_ms_ = NowMs() - start;
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // Closing releases the flock.
}

}  // namespace fleet::plugins::sync
