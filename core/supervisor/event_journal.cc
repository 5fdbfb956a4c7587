#include "core/supervisor/event_journal.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/text/json_string.h"

namespace fleet::supervisor {

EventJournal::EventJournal(std::string path, uint64_t max_size, uint32_t max_files)
    : sink_(std::move(path), max_size, max_files) {}

EventJournal::~EventJournal() { worker_.Stop(absl::Seconds(3), absl::Seconds(1)); }

std::string EventJournal::Line(const fleet::control::v1::Event& e) {
  const absl::Time at = absl::FromUnixMillis(e.unix_ms());
  return absl::StrCat(
      "{\"v\":1,\"seq\":", e.seq(), ",\"time\":",
      text::JsonString(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", at, absl::UTCTimeZone())),
      ",\"unix_ms\":", e.unix_ms(), ",\"severity\":", text::JsonString(e.severity()),
      ",\"subject\":", text::JsonString(e.subject()), ",\"kind\":", text::JsonString(e.kind()),
      ",\"message\":", text::JsonString(e.message()), "}\n");
}

void EventJournal::Append(const fleet::control::v1::Event& event) {
  if (queued_.load() >= kJournalMaxQueued) {
    ++dropped_;
    return;
  }
  ++queued_;
  std::string line = Line(event);
  const bool queued = worker_.Submit([this, line = std::move(line)] {
    --queued_;
    if (uint64_t dropped = dropped_.exchange(0); dropped > 0) {
      fleet::control::v1::Event note;
      note.set_unix_ms(absl::ToUnixMillis(absl::Now()));
      note.set_severity("warning");
      note.set_subject("fleetd");
      note.set_kind("journal_dropped");
      note.set_message(absl::StrCat(dropped,
                                    " events were not written here (the disk did not "
                                    "keep up); fleetd's log has them"));
      sink_.Write(Line(note));
    }
    sink_.Write(line);
  });
  if (!queued) --queued_;
}

}  // namespace fleet::supervisor
