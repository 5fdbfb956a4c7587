// Capture, loop side: each instance's stdout and stderr FIFOs are drained
// as epoll says they are readable, every chunk stored as records (time,
// stream; core/capture/record.h) in the instance's log and handed to the
// modules (OnOutput: metric lines, freshness, a run's stderr tail); fleetd's
// own markers (started, exited) go into the same log. Loop thread only.
#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "core/capture/record.h"
#include "core/supervisor/instance_records.h"
#include "core/supervisor/supervisor.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {
namespace {

// One pipe is read at most this much per wake-up: a chatty worker cannot
// keep the loop from the others.
constexpr size_t kMaxReadPerWakeup = 1 << 20;

}  // namespace

void Supervisor::HandlePipe(OutputPipe* pipe, uint32_t events) {
  // Only read()'s EOF closes a pipe, never the event itself: an event can be
  // stale (its pipe closed and a new one made, maybe with the same fd number,
  // by an earlier event of this batch), and closing on it would cut off the
  // new process's output (it would die of SIGPIPE).
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) DrainPipe(pipe);
}

void Supervisor::DrainPipe(OutputPipe* pipe) {
  char buffer[65536];
  size_t total = 0;
  while (pipe->fd >= 0 && total < kMaxReadPerWakeup) {
    ssize_t n = ::read(pipe->fd, buffer, sizeof(buffer));
    if (n > 0) {
      WriteOutput(pipe, absl::string_view(buffer, static_cast<size_t>(n)));
      total += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) ClosePipe(pipe);  // Every writer is gone.
    break;                        // EAGAIN: all read for now.
  }
}

void Supervisor::WriteOutput(OutputPipe* pipe, absl::string_view data) {
  Instance* inst = pipe->inst;
  record_buffer_.clear();
  capture::AppendRecords(pipe->stream, clock_->WallNow(), data, &record_buffer_);
  inst->log->Write(record_buffer_);
  if (inst->log->last_error().ok() == inst->log_failing) NoteLogWriteState(inst);
  const module::InstanceView view = ViewOf(*inst);
  for (const auto& m : modules_) m->OnOutput(view, pipe->stream, data);
}

void Supervisor::NoteLogWriteState(Instance* inst) {
  const absl::Status& error = inst->log->last_error();
  inst->log_failing = !error.ok();
  if (inst->log_failing) {
    Emit(inst->id, "log_write_failed",
         absl::StrCat(error.message(), "; its output is dropped and counted until writes succeed "
                                       "again (the worker is not touched)"));
  } else {
    Emit(inst->id, "log_write_resumed",
         absl::StrCat("writing its log again; ", inst->log->dropped_bytes(),
                      " bytes of output dropped so far"));
  }
}

void Supervisor::WriteMarker(Instance* inst, absl::string_view text) {
  record_buffer_.clear();
  capture::AppendMarker(clock_->WallNow(), text, &record_buffer_);
  inst->log->Write(record_buffer_);
}

void Supervisor::ClosePipe(OutputPipe* pipe) {
  if (pipe->fd < 0) return;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, pipe->fd, nullptr);
  ::close(pipe->fd);
  pipe->fd = -1;
}

bool Supervisor::OpenPipe(OutputPipe* pipe, int* child_fd) {
  ClosePipe(pipe);
  Instance* inst = pipe->inst;
  int fds[2];
  if (!OpenOutputFifo(
          StreamFifoPath(options_.run_dir, inst->engine->spec->name(), inst->index, pipe->stream),
          fds)) {
    // The run directory cannot hold a FIFO: a pipe, which dies with fleetd.
    if (::pipe2(fds, O_CLOEXEC) != 0) return false;
    ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  }
  pipe->fd = fds[0];
  *child_fd = fds[1];
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = pipe;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, pipe->fd, &ev);
  return true;
}

}  // namespace fleet::supervisor
