// The supervision loop's wait: one epoll over a signalfd (the signals fleetd
// handles), an eventfd for closures posted from other threads, and any
// descriptor a part of fleetd asks to watch. Nothing polls.
#ifndef FLEET_CORE_SUPERVISOR_EVENT_LOOP_H_
#define FLEET_CORE_SUPERVISOR_EVENT_LOOP_H_

#include <signal.h>
#include <stdint.h>

#include <functional>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "core/concurrency/mutex.h"

namespace fleet::supervisor {

// Thread-safety: Post() and queued() from any thread; everything else on the
// loop thread.
class EventLoop {
 public:
  EventLoop() = default;
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Creates the descriptors and takes `signals` through a signalfd.
  // REQUIRES: they are blocked in every thread.
  absl::Status Init(const sigset_t& signals);

  // The epoll set, for a caller that adds descriptors of its own with an
  // even pointer (never below 8) as their data: Wait hands those back.
  int epoll_fd() const { return epoll_fd_; }

  // Runs on_readable on the loop whenever fd is readable, until Unwatch(fd).
  // fd stays the caller's to close (after Unwatch). quiet: reading it
  // changes nothing by itself (Wait does not report it as an event).
  absl::Status Watch(int fd, std::function<void()> on_readable, bool quiet = false);
  void Unwatch(int fd);

  struct Handlers {
    // Each signal that arrived, once per wait however often it came.
    std::function<void(int signo)> on_signal;
    // A descriptor added by the caller (epoll_fd()) is ready.
    std::function<void(void* data, uint32_t events)> on_ready;
    // The wait is over, before anything is dispatched (optional): where a
    // pass of the loop begins.
    std::function<void()> on_wake;
  };
  // Waits up to timeout_ms (-1: until something happens) and dispatches
  // what is ready: signals, posted closures, watched descriptors, then the
  // caller's own. Returns false when only the caller's own descriptors were
  // ready (output, say) and nothing else happened.
  bool Wait(int timeout_ms, const Handlers& handlers);

  // Runs fn on the loop thread soon. Returns false (fn dropped) once Finish
  // has run.
  bool Post(std::function<void()> fn);
  // Runs what was posted meanwhile (it still gets its answer) and refuses
  // every later Post.
  void Finish();
  size_t queued() const;

 private:
  struct FdWatch {
    int fd;
    std::function<void()> on_readable;
    bool quiet;
  };
  void RunPosted();
  void ReadSignals(const Handlers& handlers);

  int epoll_fd_ = -1;
  int signal_fd_ = -1;
  int wake_fd_ = -1;
  absl::flat_hash_map<int, std::unique_ptr<FdWatch>> watches_;
  // Unwatched during a dispatch: freed after it, since an event for it may
  // still be in the batch being dispatched.
  std::vector<std::unique_ptr<FdWatch>> unwatched_;

  mutable fleet::Mutex post_mu_;
  std::vector<std::function<void()>> posted_ ABSL_GUARDED_BY(post_mu_);
  bool finished_ ABSL_GUARDED_BY(post_mu_) = false;
};

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_EVENT_LOOP_H_
