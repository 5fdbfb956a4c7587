#include "core/plugin_host/worker.h"

namespace fleet::plugin_host {

SerialWorker::~SerialWorker() { Stop(absl::ZeroDuration(), absl::Seconds(3)); }

bool SerialWorker::Submit(std::function<void()> job) {
  fleet::MutexLock lock(&mu_);
  if (stopping_) return false;
  queue_.push_back(std::move(job));
  if (!thread_.joinable()) thread_ = std::thread([this] { Work(); });
  return true;
}

size_t SerialWorker::pending() const {
  fleet::MutexLock lock(&mu_);
  return queue_.size() + (busy_ ? 1 : 0);
}

bool SerialWorker::Stop(absl::Duration drain, absl::Duration grace) {
  bool finished;
  {
    fleet::MutexLock lock(&mu_);
    if (stopped_) return true;
    stopped_ = true;
    if (drain > absl::ZeroDuration()) {
      mu_.AwaitWithTimeout(absl::Condition(
                               +[](SerialWorker* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu_) {
                                 return w->queue_.empty() && !w->busy_;
                               },
                               this),
                           drain);
    }
    stopping_ = true;
    queue_.clear();
    finished = !thread_.joinable() ||
               mu_.AwaitWithTimeout(absl::Condition(&thread_done_), grace);
  }
  if (!thread_.joinable()) return true;
  if (!finished) {
    thread_.detach();
    return false;
  }
  thread_.join();
  return true;
}

void SerialWorker::Work() {
  for (;;) {
    std::function<void()> job;
    {
      fleet::MutexLock lock(&mu_);
      busy_ = false;
      mu_.Await(absl::Condition(
          +[](SerialWorker* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu_) {
            return w->stopping_ || !w->queue_.empty();
          },
          this));
      if (stopping_) {
        thread_done_ = true;
        return;
      }
      job = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    job();
  }
}

}  // namespace fleet::plugin_host
