#include "core/supervisor/output_fifo.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/os/files.h"

namespace fleet::supervisor {
namespace {

// False (errno set) when no FIFO can be made at path.
bool OpenFifo(const std::string& path, PipeEnds* ends) {
  if (!os::MakeDirs(os::DirName(path), 0700).ok()) return false;
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && !S_ISFIFO(st.st_mode)) ::unlink(path.c_str());
  if (::mkfifo(path.c_str(), 0600) != 0 && errno != EEXIST) return false;
  ends->read = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (ends->read < 0) return false;
  // With a reader open, opening for writing does not block.
  ends->write = ::open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (ends->write < 0) {
    ::close(ends->read);
    ends->read = -1;
    return false;
  }
  return true;
}

}  // namespace

absl::Status OpenOutputPipe(const std::string& path, PipeEnds* ends) {
  if (OpenFifo(path, ends)) return absl::OkStatus();
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe");
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  ends->read = fds[0];
  ends->write = fds[1];
  return absl::OkStatus();
}

}  // namespace fleet::supervisor
