// RUN_DIR/events.jsonl: every fleetd event (what `fleetctl events` shows)
// as one JSON line, for a log shipper (Vector, Fluent Bit, promtail) to
// follow. Written on a thread of its own, never by whoever emitted the
// event (the supervision loop among them); rotated by size like an
// instance's log (events.jsonl.1, ...). One schema, version 1:
//
//   {"v":1,"seq":12,"time":"2026-12-06T07:12:14.123Z","unix_ms":1796541134123,
//    "severity":"info","subject":"w/0","kind":"started","message":"pid 4242"}
#ifndef FLEET_CORE_SUPERVISOR_EVENT_JOURNAL_H_
#define FLEET_CORE_SUPERVISOR_EVENT_JOURNAL_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "core/capture/log_sink.h"
#include "core/plugin_host/worker.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::supervisor {

// Lines waiting for the disk beyond this are dropped (and counted): a hung
// disk costs memory only up to here.
inline constexpr size_t kJournalMaxQueued = 10000;

class EventJournal {
 public:
  EventJournal(std::string path, uint64_t max_size, uint32_t max_files);
  ~EventJournal();  // What is queued is written (for a few seconds at most).

  // Any thread: the event's line, queued for the journal's thread.
  void Append(const fleet::control::v1::Event& event);

  // The event's line (with its newline).
  static std::string Line(const fleet::control::v1::Event& event);

 private:
  capture::LogSink sink_;  // the worker's
  std::atomic<size_t> queued_{0};
  std::atomic<uint64_t> dropped_{0};
  plugin_host::SerialWorker worker_;  // last: stopped first
};

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_EVENT_JOURNAL_H_
