// Starts runs off the supervision loop. A start blocks whoever makes it until
// the child has exec'ed (vfork): 2 ms on an idle machine, 50 ms and more
// while the kernel tears down a storm of killed processes. The loop hands a
// prepared run here and goes on with exits, timers and commands; the pid
// comes back to the loop as posted work.
//
// A child can exit (and be reaped by the loop) before its pid reaches the
// loop: exits nobody claims are kept while starts are in flight, and handed
// to the start they belong to.
#ifndef FLEET_CORE_SUPERVISOR_SPAWNER_H_
#define FLEET_CORE_SUPERVISOR_SPAWNER_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/concurrency/mutex.h"
#include "core/os/cgroup.h"
#include "core/os/clock.h"
#include "core/os/process.h"
#include "core/plugin_host/worker.h"

namespace fleet::supervisor {

class Spawner {
 public:
  struct Done {
    std::string id;   // the instance, as given to Start
    uint64_t ticket;  // the start, as given to Start
    absl::StatusOr<pid_t> pid;
    // It exited, and was reaped, before the loop heard of it.
    std::optional<os::ExitStatus> exited;
    // The cgroup leaf it was born in ("" if none), the OOM kill count where
    // that leaf lives as it started, and why it was started outside the
    // leaf it was given, if it was.
    std::string cgroup;
    std::optional<os::OomKillCount> oom_kills_at_start;
    std::string cgroup_error;
    // When it was started (the clone returned: the child has exec'ed),
    // not when the loop heard of it.
    os::MonoTime started;
    absl::Time started_wall;
    // The read ends of its stdout and stderr (-1: none), the loop's to
    // watch or close; always -1 when it did not start.
    int stdout_read = -1;
    int stderr_read = -1;
  };
  // clock: thread-safe, read as each start is made. post: runs a closure on
  // the loop (false once the loop is over). on_done: runs on the loop for
  // every start. pass_over: the loop's pass has spent its budget; the starts
  // delivered beyond it are taken on in the next pass.
  Spawner(os::Clock* clock, std::function<bool(std::function<void()>)> post,
          std::function<void(Done)> on_done, std::function<bool()> pass_over);
  ~Spawner();  // every start queued is made and its child killed unheard of

  struct Request {
    std::string id;
    uint64_t ticket = 0;
    os::SpawnSpec spec;
    // The run's descriptors, closed once it has started (or failed to).
    std::vector<int> close_after;
    // Made (os::OpenFreshLeaf) and the child born in it; "": none.
    std::string cgroup_leaf;
    // Opened (OpenOutputPipe) as its stdout ("": spec.output_fd is) and
    // stderr.
    std::string stdout_fifo;
    std::string stderr_fifo;
  };
  // Loop thread: started on the Spawner's thread; on_done runs later.
  void Start(Request request);
  // Loop thread: started here and now, on_done run before this returns
  // (for a start whose answer someone waits for: an operator's command).
  void StartNow(Request request);
  // Loop thread: a reaped child nobody else claims. True when kept (starts
  // are in flight: it may be one of theirs).
  bool KeepUnclaimedExit(pid_t pid, const os::ExitStatus& status);
  // Starts whose pid has not reached the loop yet.
  int in_flight() const { return in_flight_; }

 private:
  // Does a start; any thread.
  Done Make(Request request);
  // Spawner thread: done joins those waiting for the loop, which is woken
  // once per batch (a busy loop takes on many starts in one pass).
  void Deliver(Done done);
  // Posts TakeDelivered to the loop; once the loop is over, kills what was
  // delivered instead.
  void WakeLoop();
  // Loop thread: the starts delivered so far, as many as the pass's budget
  // allows (at least one); the rest in the next pass.
  void TakeDelivered();
  void Finish(Done done);

  os::Clock* clock_;
  std::function<bool(std::function<void()>)> post_;
  std::function<void(Done)> on_done_;
  std::function<bool()> pass_over_;
  int in_flight_ = 0;  // loop thread
  fleet::Mutex mu_;
  std::vector<Done> delivered_ ABSL_GUARDED_BY(mu_);
  bool wake_posted_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<pid_t, os::ExitStatus> unclaimed_;
  plugin_host::SerialWorker worker_;
};

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_SPAWNER_H_
