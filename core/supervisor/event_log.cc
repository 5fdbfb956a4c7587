#include "core/supervisor/event_log.h"

#include "absl/strings/str_cat.h"
#include "core/log/log.h"
#include "core/text/utf8.h"

namespace fleet::supervisor {

EventLog::EventLog(os::Clock* clock, size_t capacity) : clock_(clock), capacity_(capacity) {}

void EventLog::Add(const std::string& subject, const std::string& kind,
                   const std::string& message) {
  fleet::control::v1::Event event;
  event.set_unix_ms(absl::ToUnixMillis(clock_->WallNow()));
  // Messages quote what workers wrote (file names, parse errors, output);
  // one invalid UTF-8 byte would make readers drop every batch holding it.
  event.set_subject(text::EscapeInvalidUtf8(subject));
  event.set_kind(kind);
  event.set_message(text::EscapeInvalidUtf8(message));
  static const char* const kWarnings[] = {"fatal",
                                          "exited",
                                          "spawn_failed",
                                          "reload_failed",
                                          "killed",
                                          "unhealthy",
                                          "plugin_failed",
                                          "metrics_error",
                                          "condition_killed",
                                          "health_unknown",
                                          "timed_out",
                                          "state_unreachable",
                                          "state_conflict",
                                          "state_error",
                                          "state_rebuilt",
                                          "file_restored",
                                          "file_invalid",
                                          "recovery_error",
                                          "state_invalid",
                                          "logs_paused",
                                          "log_write_failed",
                                          "record_failed",
                                          "record_invalid",
                                          "lost",
                                          "leftovers_killed",
                                          "run_failed",
                                          "run_timed_out",
                                          "run_skipped",
                                          "run_missed",
                                          "run_overdue",
                                          "run_rejected",
                                          "runs_invalid"};
  bool warn = false;
  for (const char* w : kWarnings) warn = warn || kind == w;
  event.set_severity(warn ? "warning" : "info");
  log::Write(warn ? log::Severity::kWarning : log::Severity::kInfo,
             absl::StrCat(subject, " ", kind, message.empty() ? "" : ": ", message));
  fleet::MutexLock lock(&mu_);
  event.set_seq(next_seq_++);
  ring_.push_back(std::move(event));
  if (sink_) sink_(ring_.back());
  while (ring_.size() > capacity_) ring_.pop_front();
}

void EventLog::SetSink(std::function<void(const fleet::control::v1::Event&)> sink) {
  fleet::MutexLock lock(&mu_);
  sink_ = std::move(sink);
}

std::vector<fleet::control::v1::Event> EventLog::Since(uint64_t after) const {
  fleet::MutexLock lock(&mu_);
  std::vector<fleet::control::v1::Event> out;
  for (const auto& event : ring_) {
    if (event.seq() > after) out.push_back(event);
  }
  return out;
}

uint64_t EventLog::SeqBefore(size_t n) const {
  fleet::MutexLock lock(&mu_);
  uint64_t last = next_seq_ - 1;
  return last > n ? last - n : 0;
}

bool EventLog::WaitFor(uint64_t after, absl::Duration timeout) const {
  fleet::MutexLock lock(&mu_);
  auto ready = [this, after]()
                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closed_ || next_seq_ - 1 > after; };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  return next_seq_ - 1 > after;
}

void EventLog::Close() {
  fleet::MutexLock lock(&mu_);
  closed_ = true;
}

bool EventLog::closed() const {
  fleet::MutexLock lock(&mu_);
  return closed_;
}

uint64_t EventLog::last_seq() const {
  fleet::MutexLock lock(&mu_);
  return next_seq_ - 1;
}

}  // namespace fleet::supervisor
