// fleet::Mutex is absl::Mutex, made visible to ThreadSanitizer. Debian's
// abseil is built without TSan, and its Mutex parks threads on futexes, not
// pthread mutexes: TSan sees none of its lock and unlock edges and reports
// every access it guards as a race. Under TSan this wrapper tells it of
// each acquire and release; in every other build it adds nothing.
#ifndef FLEET_CORE_CONCURRENCY_MUTEX_H_
#define FLEET_CORE_CONCURRENCY_MUTEX_H_

#include <chrono>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#if defined(__SANITIZE_THREAD__)
#define FLEET_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FLEET_TSAN 1
#endif
#endif

#ifdef FLEET_TSAN
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace fleet {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    mu_.Lock();
    Acquired();
  }
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    // Waiters test their own conditions (below): absl's Await would have
    // this thread test them inside Unlock, after the release TSan was told
    // of, and report the waiter's next write as racing with that read.
    if (waiters_ > 0) changed_.SignalAll();
    Released();
    mu_.Unlock();
  }
  // As absl::Mutex's: the lock is let go while waiting.
  void Await(const absl::Condition& cond) {
    ++waiters_;
    bool first = true;
    while (!cond.Eval()) {
      WakeOthers(&first);
      Released();
      changed_.Wait(&mu_);
      Acquired();
    }
    --waiters_;
  }
  bool AwaitWithTimeout(const absl::Condition& cond, absl::Duration timeout) {
    if (timeout == absl::InfiniteDuration()) {
      Await(cond);
      return true;
    }
    // On the monotonic clock: a wall-clock jump neither cuts nor stretches it.
    const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
    ++waiters_;
    bool first = true;
    bool met;
    while (!(met = cond.Eval())) {
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) break;
      WakeOthers(&first);
      Released();
      changed_.WaitWithTimeout(&mu_, absl::FromChrono(left));
      Acquired();
    }
    --waiters_;
    return met;
  }
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() { mu_.AssertHeld(); }

 private:
  // Waiting lets the lock go, as an Unlock does: what this thread changed
  // before it waits may be what another waiter waits for. Only before the
  // first wait: after a wakeup this thread has changed nothing.
  void WakeOthers(bool* first) {
    if (*first && waiters_ > 1) changed_.SignalAll();
    *first = false;
  }
  void Acquired() {
#ifdef FLEET_TSAN
    __tsan_acquire(this);
#endif
  }
  void Released() {
#ifdef FLEET_TSAN
    __tsan_release(this);
#endif
  }

  absl::Mutex mu_;
  absl::CondVar changed_;
  int waiters_ = 0;  // Under mu_.
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// absl::Notification over fleet::Mutex, for the same reason.
class Notification {
 public:
  void Notify() {
    MutexLock lock(&mu_);
    notified_ = true;
  }
  void WaitForNotification() {
    MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&notified_));
  }
  bool WaitForNotificationWithTimeout(absl::Duration timeout) {
    MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&notified_), timeout);
  }
  bool HasBeenNotified() {
    MutexLock lock(&mu_);
    return notified_;
  }

 private:
  Mutex mu_;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace fleet

#endif  // FLEET_CORE_CONCURRENCY_MUTEX_H_
