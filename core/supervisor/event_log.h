// The fleet's recent events (bounded ring), readable from any thread, with a
// wait for new ones: `fleetctl events -f` streams from here. Each event is
// also written to fleetd's log as one line.
#ifndef FLEET_CORE_SUPERVISOR_EVENT_LOG_H_
#define FLEET_CORE_SUPERVISOR_EVENT_LOG_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/concurrency/mutex.h"
#include "core/os/clock.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::supervisor {

// Thread-safe.
class EventLog {
 public:
  explicit EventLog(os::Clock* clock, size_t capacity = 2000);

  // subject: "ENGINE/N", "ENGINE" or "fleetd"; kind: "started", "exited", ...
  void Add(const std::string& subject, const std::string& kind, const std::string& message);

  // Events with seq > after, oldest first (at most the ring's content).
  std::vector<fleet::control::v1::Event> Since(uint64_t after) const;
  // The seq of the event `n` back from the newest (for "last N").
  uint64_t SeqBefore(size_t n) const;
  // Blocks until an event with seq > after exists, the timeout passes or the
  // log is closed. Returns true when there is something to read.
  bool WaitFor(uint64_t after, absl::Duration timeout) const;
  // Every event from now on also goes to sink (the journal), in seq order;
  // called under the log's lock, so it must only queue. Empty: none.
  void SetSink(std::function<void(const fleet::control::v1::Event&)> sink);
  // Wakes every waiter for good (fleetd is shutting down).
  void Close();
  bool closed() const;
  uint64_t last_seq() const;

 private:
  os::Clock* clock_;
  const size_t capacity_;
  mutable fleet::Mutex mu_;
  std::deque<fleet::control::v1::Event> ring_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void(const fleet::control::v1::Event&)> sink_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_EVENT_LOG_H_
