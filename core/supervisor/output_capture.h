// Output capture: each instance's stdout and stderr come through FIFOs of
// their own (RUN_DIR/pipes/ENGINE.N and .err) that outlive fleetd, so a
// fleetd that comes back reads a survivor's output where the last one
// stopped. The read ends sit in the loop's epoll set; every chunk is stored
// as records (time, stream; core/capture/record.h) in the instance's log,
// then handed on (to the modules); fleetd's own markers (started, exited)
// go into the same log. A log that starts or stops failing is said once
// each way. Loop thread only.
#ifndef FLEET_CORE_SUPERVISOR_OUTPUT_CAPTURE_H_
#define FLEET_CORE_SUPERVISOR_OUTPUT_CAPTURE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/strings/string_view.h"
#include "core/capture/record.h"
#include "core/os/clock.h"

namespace fleet::supervisor {

struct Instance;
struct OutputPipe;

class OutputCapture {
 public:
  using Emit = std::function<void(const std::string& subject, const std::string& kind,
                                  const std::string& message)>;
  // on_chunk: what a pipe delivered, once it is in the log.
  OutputCapture(os::Clock* clock, std::string run_dir, Emit emit,
                std::function<void(OutputPipe*, absl::string_view)> on_chunk)
      : clock_(clock),
        run_dir_(std::move(run_dir)),
        emit_(std::move(emit)),
        on_chunk_(std::move(on_chunk)) {}

  // The loop's epoll set (before any Open).
  void set_epoll(int epoll_fd) { epoll_fd_ = epoll_fd; }

  // A new run's read end (OpenOutputPipe, made off the loop) for pipe;
  // nothing is read from it until Watch: the run's start marker goes into
  // the log first.
  void SetReadEnd(OutputPipe* pipe, int read_fd);
  // An open pipe's read end into the epoll set; no-op for a closed one.
  void Watch(OutputPipe* pipe);
  // After a fleetd restart: the read end of a survivor's FIFO, if there is
  // one (never followed through a symlink, never anything but a FIFO).
  bool Reopen(OutputPipe* pipe);
  // epoll says pipe is readable (or hung up).
  void OnReadable(OutputPipe* pipe, uint32_t events);
  // Reads what is there (bounded per call); EOF closes it.
  void Drain(OutputPipe* pipe);
  void Close(OutputPipe* pipe);
  // A line of fleetd's own in inst's log.
  void Marker(Instance* inst, absl::string_view text);

 private:
  void Write(OutputPipe* pipe, absl::string_view data);
  void NoteLogWriteState(Instance* inst);

  os::Clock* clock_;
  const std::string run_dir_;
  Emit emit_;
  std::function<void(OutputPipe*, absl::string_view)> on_chunk_;
  int epoll_fd_ = -1;
  // Reused for formatting records (no allocation per read).
  std::string buffer_;
};

// RUN_DIR/pipes/ENGINE.N (stdout) or ENGINE.N.err (stderr).
std::string StreamFifoPath(const std::string& run_dir, const std::string& engine, uint32_t index,
                           capture::Stream stream);

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_OUTPUT_CAPTURE_H_
