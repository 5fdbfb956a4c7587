// Runs jobs (plugin calls) off the supervision loop: one thread takes them in
// order. In-process plugin calls cannot be interrupted, so stopping waits for
// the job in progress only so long; past that the thread is abandoned to the
// process's exit, and the owner must leak whatever the job may still use.
#ifndef FLEET_CORE_PLUGIN_HOST_WORKER_H_
#define FLEET_CORE_PLUGIN_HOST_WORKER_H_

#include <deque>
#include <functional>
#include <string>
#include <thread>

#include "core/concurrency/mutex.h"
#include "absl/time/time.h"

namespace fleet::plugin_host {

// Thread-safe.
class SerialWorker {
 public:
  SerialWorker() = default;
  // Stop(absl::ZeroDuration(), absl::Seconds(3)) if not stopped yet.
  ~SerialWorker();
  SerialWorker(const SerialWorker&) = delete;
  SerialWorker& operator=(const SerialWorker&) = delete;

  // Queues job; the thread starts with the first one. False (job dropped)
  // once stopping.
  bool Submit(std::function<void()> job);
  // Jobs queued or running.
  size_t pending() const;
  // Lets queued jobs run for up to `drain`, drops the rest, and waits up to
  // `grace` for the one in progress. Returns false when that job is still
  // running: the thread is detached and must not find its objects freed.
  bool Stop(absl::Duration drain, absl::Duration grace);

 private:
  void Work();

  mutable fleet::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool thread_done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace fleet::plugin_host

#endif  // FLEET_CORE_PLUGIN_HOST_WORKER_H_
