#include "core/plugin_host/framing.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/os/clock.h"

namespace fleet::plugin_host {
namespace {

// deadline: on the monotonic clock (a wall-clock jump neither times a call
// out nor stalls it); InfiniteDuration(): none.
absl::Status ReadExactly(int fd, char* out, size_t n, os::MonoTime deadline) {
  while (n > 0) {
    if (deadline != absl::InfiniteDuration()) {
      absl::Duration left = deadline - os::RealClock()->MonotonicNow();
      if (left <= absl::ZeroDuration()) return absl::DeadlineExceededError("no answer in time");
      pollfd p{fd, POLLIN, 0};
      int ready = ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) return absl::DeadlineExceededError("no answer in time");
    }
    ssize_t got = ::read(fd, out, n);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return absl::ErrnoToStatus(errno, "read");
    if (got == 0) return absl::UnavailableError("the other side closed the pipe");
    out += got;
    n -= static_cast<size_t>(got);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteFrame(int fd, const Frame& frame) {
  if (frame.bytes.size() > kMaxFrameBytes) return absl::InvalidArgumentError("frame too large");
  std::string out(8, '\0');
  uint32_t header[2] = {frame.tag, static_cast<uint32_t>(frame.bytes.size())};
  std::memcpy(out.data(), header, 8);
  out += frame.bytes;
  const char* p = out.data();
  size_t left = out.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "write");
    p += n;
    left -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<Frame> ReadFrame(int fd, absl::Duration timeout) {
  const os::MonoTime deadline = timeout == absl::InfiniteDuration()
                                    ? absl::InfiniteDuration()
                                    : os::RealClock()->MonotonicNow() + timeout;
  uint32_t header[2];
  absl::Status status = ReadExactly(fd, reinterpret_cast<char*>(header), 8, deadline);
  if (!status.ok()) return status;
  if (header[1] > kMaxFrameBytes) {
    return absl::DataLossError(absl::StrCat("frame of ", header[1], " bytes is over the limit"));
  }
  Frame frame{header[0], std::string(header[1], '\0')};
  status = ReadExactly(fd, frame.bytes.data(), header[1], deadline);
  if (!status.ok()) return status;
  return frame;
}

}  // namespace fleet::plugin_host
