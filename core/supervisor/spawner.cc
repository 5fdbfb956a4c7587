#include "core/supervisor/spawner.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include <utility>

#include "core/os/env.h"
#include "core/supervisor/output_fifo.h"

namespace fleet::supervisor {

Spawner::Spawner(os::Clock* clock, std::function<bool(std::function<void()>)> post,
                 std::function<void(Done)> on_done, std::function<bool()> pass_over)
    : clock_(clock),
      post_(std::move(post)),
      on_done_(std::move(on_done)),
      pass_over_(std::move(pass_over)) {}

Spawner::~Spawner() { worker_.Stop(absl::InfiniteDuration(), absl::Seconds(10)); }

Spawner::Done Spawner::Make(Request request) {
  Done done{std::move(request.id),
            request.ticket,
            absl::UnknownError("not started"),
            std::nullopt,
            "",
            std::nullopt,
            ""};
  if (!request.cgroup_leaf.empty()) {
    absl::StatusOr<int> fd = os::OpenFreshLeaf(request.cgroup_leaf);
    if (fd.ok()) {
      request.spec.cgroup_fd = *fd;
      request.close_after.push_back(*fd);
      done.oom_kills_at_start = os::ReadOomKills(request.cgroup_leaf);
      done.cgroup = std::move(request.cgroup_leaf);
    } else {
      done.cgroup_error = std::string(fd.status().message());
    }
  }
  // Its output pipes are made here, not on the loop: a mknod and two opens
  // each.
  auto open_pipe = [&request](const std::string& path, int* child_fd, int* read_fd) {
    if (path.empty()) return absl::OkStatus();
    PipeEnds ends;
    absl::Status opened = OpenOutputPipe(path, &ends);
    if (!opened.ok()) return opened;
    *child_fd = ends.write;
    *read_fd = ends.read;
    request.close_after.push_back(ends.write);
    return absl::OkStatus();
  };
  absl::Status piped = open_pipe(request.stdout_fifo, &request.spec.output_fd, &done.stdout_read);
  if (piped.ok()) {
    piped = open_pipe(request.stderr_fifo, &request.spec.error_fd, &done.stderr_read);
  }
  done.pid = piped.ok() ? os::CurrentEnv()->Spawn(request.spec) : absl::StatusOr<pid_t>(piped);
  done.started = clock_->MonotonicNow();
  done.started_wall = clock_->WallNow();
  for (int fd : request.close_after) ::close(fd);
  if (!done.pid.ok()) {
    for (int* fd : {&done.stdout_read, &done.stderr_read}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }
  return done;
}

void Spawner::Start(Request request) {
  ++in_flight_;
  auto job = [this, request = std::move(request)]() mutable {
    // No handler of fleetd's runs here.
    sigset_t all;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, nullptr);
    Deliver(Make(std::move(request)));
  };
  if (!worker_.Submit(std::move(job))) --in_flight_;
}

void Spawner::Deliver(Done done) {
  bool wake = false;
  {
    fleet::MutexLock lock(&mu_);
    delivered_.push_back(std::move(done));
    wake = !wake_posted_;
    wake_posted_ = true;
  }
  if (wake) WakeLoop();
}

void Spawner::WakeLoop() {
  if (post_([this] { TakeDelivered(); })) return;
  // The loop is over: nobody would supervise what was started.
  fleet::MutexLock lock(&mu_);
  for (const Done& d : delivered_) {
    if (d.pid.ok()) os::SignalGroup(*d.pid, SIGKILL);
    for (int fd : {d.stdout_read, d.stderr_read}) {
      if (fd >= 0) ::close(fd);
    }
  }
  delivered_.clear();
  wake_posted_ = false;
}

void Spawner::TakeDelivered() {
  std::vector<Done> batch;
  {
    fleet::MutexLock lock(&mu_);
    batch.swap(delivered_);
    wake_posted_ = false;
  }
  size_t taken = 0;
  while (taken < batch.size() && (taken == 0 || !pass_over_())) {
    Finish(std::move(batch[taken++]));
  }
  if (taken == batch.size()) return;
  // The rest go first in the next pass (a pid record, events and a log
  // marker each: 200 at once would hold the loop for tens of ms).
  bool wake = false;
  {
    fleet::MutexLock lock(&mu_);
    delivered_.insert(delivered_.begin(), std::make_move_iterator(batch.begin() + taken),
                      std::make_move_iterator(batch.end()));
    wake = !wake_posted_;
    wake_posted_ = true;
  }
  if (wake) WakeLoop();
}

void Spawner::StartNow(Request request) {
  ++in_flight_;
  Finish(Make(std::move(request)));
}

void Spawner::Finish(Done done) {
  --in_flight_;
  if (done.pid.ok()) {
    auto it = unclaimed_.find(*done.pid);
    // Kept for this pid, and no process of that pid is left (not even a
    // zombie): the exit kept is this child's. A process still there is a
    // later one that reused the pid of an exit kept earlier.
    if (it != unclaimed_.end() && ::kill(*done.pid, 0) != 0 && errno == ESRCH) {
      done.exited = it->second;
    }
    if (it != unclaimed_.end()) unclaimed_.erase(it);
  }
  if (in_flight_ == 0) unclaimed_.clear();  // Orphans reaped; nothing else to claim them.
  on_done_(std::move(done));
}

bool Spawner::KeepUnclaimedExit(pid_t pid, const os::ExitStatus& status) {
  if (in_flight_ == 0) return false;
  unclaimed_[pid] = status;
  return true;
}

}  // namespace fleet::supervisor
