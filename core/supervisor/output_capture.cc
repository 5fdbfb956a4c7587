#include "core/supervisor/output_capture.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "core/capture/record.h"
#include "core/os/files.h"
#include "core/supervisor/instance_records.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {
namespace {

// One pipe is read at most this much per wake-up: a chatty worker cannot
// keep the loop from the others.
constexpr size_t kMaxReadPerWakeup = 1 << 20;

}  // namespace

std::string StreamFifoPath(const std::string& run_dir, const std::string& engine, uint32_t index,
                           capture::Stream stream) {
  const std::string path = OutputFifoPath(run_dir, engine, index);
  return stream == capture::Stream::kStderr ? path + ".err" : path;
}

void OutputCapture::OnReadable(OutputPipe* pipe, uint32_t events) {
  // Only read()'s EOF closes a pipe, never the event itself: an event can be
  // stale (its pipe closed and a new one made, maybe with the same fd number,
  // by an earlier event of this batch), and closing on it would cut off the
  // new process's output (it would die of SIGPIPE).
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) Drain(pipe);
}

void OutputCapture::Drain(OutputPipe* pipe) {
  char buffer[65536];
  size_t total = 0;
  while (pipe->fd >= 0 && total < kMaxReadPerWakeup) {
    ssize_t n = ::read(pipe->fd, buffer, sizeof(buffer));
    if (n > 0) {
      Write(pipe, absl::string_view(buffer, static_cast<size_t>(n)));
      total += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) Close(pipe);  // Every writer is gone.
    break;                    // EAGAIN: all read for now.
  }
}

void OutputCapture::Write(OutputPipe* pipe, absl::string_view data) {
  Instance* inst = pipe->inst;
  buffer_.clear();
  capture::AppendRecords(pipe->stream, clock_->WallNow(), data, &buffer_);
  inst->log->Write(buffer_);
  if (inst->log->last_error().ok() == inst->log_failing) NoteLogWriteState(inst);
  on_chunk_(pipe, data);
}

void OutputCapture::NoteLogWriteState(Instance* inst) {
  const absl::Status& error = inst->log->last_error();
  inst->log_failing = !error.ok();
  if (inst->log_failing) {
    emit_(inst->id, "log_write_failed",
          absl::StrCat(error.message(),
                       "; its output is dropped and counted until writes succeed "
                       "again (the worker is not touched)"));
  } else {
    emit_(inst->id, "log_write_resumed",
          absl::StrCat("writing its log again; ", inst->log->dropped_bytes(),
                       " bytes of output dropped so far"));
  }
}

void OutputCapture::Marker(Instance* inst, absl::string_view text) {
  buffer_.clear();
  capture::AppendMarker(clock_->WallNow(), text, &buffer_);
  inst->log->Write(buffer_);
}

void OutputCapture::Close(OutputPipe* pipe) {
  if (pipe->fd < 0) return;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, pipe->fd, nullptr);
  ::close(pipe->fd);
  pipe->fd = -1;
}

void OutputCapture::SetReadEnd(OutputPipe* pipe, int read_fd) {
  Close(pipe);
  pipe->fd = read_fd;
}

void OutputCapture::Watch(OutputPipe* pipe) {
  if (pipe->fd < 0) return;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = pipe;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, pipe->fd, &ev);
}

bool OutputCapture::Reopen(OutputPipe* pipe) {
  Instance* inst = pipe->inst;
  const std::string fifo =
      StreamFifoPath(run_dir_, inst->engine->spec->name(), inst->index, pipe->stream);
  pipe->fd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  if (pipe->fd >= 0 && (::fstat(pipe->fd, &st) != 0 || !S_ISFIFO(st.st_mode))) {
    ::close(pipe->fd);
    pipe->fd = -1;
  }
  if (pipe->fd < 0) return false;
  Watch(pipe);
  return true;
}

}  // namespace fleet::supervisor
