#include "core/bus/run_state.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/backoff/backoff.h"
#include "google/protobuf/util/time_util.h"

namespace fleet::bus {
namespace {

namespace v1 = ::fleet::bus::v1;

// A task's retries wait retry_delay, doubling, at most this long: a task
// file's numbers (100 retries of a year's delay) never overflow a time.
constexpr absl::Duration kMaxRetryDelay = absl::Hours(24);

}  // namespace

const char* TaskStateName(TaskState state) {
  switch (state) {
    case TaskState::kPending:
      return "pending";
    case TaskState::kReady:
      return "ready";
    case TaskState::kClaimed:
      return "claimed";
    case TaskState::kSucceeded:
      return "succeeded";
    case TaskState::kFailed:
      return "failed";
    case TaskState::kSkipped:
      return "skipped";
    case TaskState::kUpstreamFailed:
      return "upstream_failed";
    case TaskState::kCancelled:
      return "cancelled";
  }
  return "?";
}

std::optional<TaskState> TaskStateFromName(const std::string& name) {
  for (TaskState s : {TaskState::kPending, TaskState::kReady, TaskState::kClaimed,
                      TaskState::kSucceeded, TaskState::kFailed, TaskState::kSkipped,
                      TaskState::kUpstreamFailed, TaskState::kCancelled}) {
    if (name == TaskStateName(s)) return s;
  }
  return std::nullopt;
}

bool Terminal(TaskState s) {
  return s == TaskState::kSucceeded || s == TaskState::kFailed || s == TaskState::kSkipped ||
         s == TaskState::kUpstreamFailed || s == TaskState::kCancelled;
}

RunState::RunState(v1::Dag dag) : dag_(std::move(dag)) {
  status_.resize(dag_.tasks_size());
  needs_.resize(dag_.tasks_size());
  for (int i = 0; i < dag_.tasks_size(); ++i) {
    index_[dag_.tasks(i).id()] = i;
    status_[i].reason = "waiting for its needs";
  }
  for (int i = 0; i < dag_.tasks_size(); ++i) {
    for (const std::string& need : dag_.tasks(i).needs()) needs_[i].push_back(index_.at(need));
  }
}

const v1::Task& RunState::task(const std::string& id) const { return dag_.tasks(index_.at(id)); }

void RunState::Touch(const std::string& id) {
  advance_due_ = true;
  if (changed_set_.insert(id).second) changed_.push_back(id);
}

std::vector<std::string> RunState::TakeChanged() {
  std::vector<std::string> out;
  out.swap(changed_);
  changed_set_.clear();
  return out;
}

void RunState::End(const std::string& id, TaskState state, std::string reason, int64_t now_ms) {
  Touch(id);
  TaskStatus& s = St(id);
  s.state = state;
  s.reason = std::move(reason);
  s.ended_ms = now_ms;
  s.published = false;
}

void RunState::Advance(int64_t now_ms) {
  if (!advance_due_) return;
  advance_due_ = false;
  bool changed = true;
  while (changed) {
    changed = false;
    for (int i = 0; i < dag_.tasks_size(); ++i) {
      TaskStatus& s = status_[i];
      if (s.state != TaskState::kPending) continue;
      int failed = -1, skipped = -1;
      bool all_ended = true;
      for (int need : needs_[i]) {
        const TaskState n = status_[need].state;
        if (!Terminal(n)) {
          all_ended = false;
          break;
        }
        if ((n == TaskState::kFailed || n == TaskState::kUpstreamFailed) && failed < 0) {
          failed = need;
        }
        if ((n == TaskState::kSkipped || n == TaskState::kCancelled) && skipped < 0) {
          skipped = need;
        }
      }
      if (!all_ended) continue;
      changed = true;
      const v1::Task& t = dag_.tasks(i);
      const v1::TriggerRule rule = t.trigger_rule();
      if (rule != v1::TRIGGER_RULE_ALL_DONE && failed >= 0) {
        End(t.id(), TaskState::kUpstreamFailed,
            absl::StrCat("upstream ", dag_.tasks(failed).id(), " ",
                         TaskStateName(status_[failed].state)),
            now_ms);
      } else if (rule == v1::TRIGGER_RULE_ALL_SUCCESS && skipped >= 0) {
        End(t.id(), TaskState::kSkipped,
            absl::StrCat("upstream ", dag_.tasks(skipped).id(), " ",
                         TaskStateName(status_[skipped].state)),
            now_ms);
      } else {
        Touch(t.id());
        s.state = TaskState::kReady;
        ++s.attempt;  // 1, or the next after an operator's retry: no file reused.
        s.reason = "ready";
      }
    }
  }
  advance_due_ = false;
}

std::vector<std::string> RunState::ToPublish(int64_t now_ms) const {
  std::vector<std::string> out;
  for (int i = 0; i < dag_.tasks_size(); ++i) {
    const TaskStatus& s = status_[i];
    if (s.state == TaskState::kReady && !s.published && s.retry_at_ms <= now_ms) {
      out.push_back(dag_.tasks(i).id());
    }
  }
  return out;
}

void RunState::Published(const std::string& id, int64_t now_ms) {
  Touch(id);
  TaskStatus& s = St(id);
  s.published = true;
  s.waiting_since_ms = 0;
  if (s.started_ms == 0) s.started_ms = now_ms;
  s.reason = absl::StrCat("offered (attempt ", s.attempt, ")");
}

void RunState::Claimed(const std::string& id, const std::string& worker, int64_t now_ms) {
  TaskStatus& s = St(id);
  if (s.state != TaskState::kReady) return;
  Touch(id);
  s.state = TaskState::kClaimed;
  s.worker = worker;
  s.claimed_ms = now_ms;
  s.reason = absl::StrCat("claimed by ", worker, " (attempt ", s.attempt, ")");
}

absl::Status RunState::Result(const std::string& id, uint32_t attempt, bool ok,
                              const std::string& output, const std::string& error, int64_t now_ms) {
  if (!Has(id)) return absl::NotFoundError(absl::StrCat("no task '", id, "' in run ", dag_.name()));
  TaskStatus& s = St(id);
  if (Terminal(s.state)) {
    return absl::FailedPreconditionError(
        absl::StrCat("task '", id, "' has ended (", TaskStateName(s.state), "): a duplicate"));
  }
  if (attempt != s.attempt || (s.state != TaskState::kClaimed && s.state != TaskState::kReady) ||
      !s.published) {
    return absl::FailedPreconditionError(absl::StrCat("result for attempt ", attempt, " of '", id,
                                                      "', whose current attempt is ", s.attempt,
                                                      " (", TaskStateName(s.state), "): stale"));
  }
  if (ok) {
    s.output = output;
    End(id, TaskState::kSucceeded,
        absl::StrCat("succeeded on attempt ", attempt, s.worker.empty() ? "" : " by " + s.worker),
        now_ms);
    return absl::OkStatus();
  }
  const v1::Task& t = task(id);
  Touch(id);
  ++s.failures;
  if (s.failures <= t.retries()) {
    const int64_t delay = absl::ToInt64Milliseconds(
        Backoff{absl::Milliseconds(
                    google::protobuf::util::TimeUtil::DurationToMilliseconds(t.retry_delay())),
                kMaxRetryDelay}
            .Delay(s.failures));
    s.state = TaskState::kReady;
    s.published = false;
    ++s.attempt;
    s.retry_at_ms = now_ms + delay;
    s.worker.clear();
    s.reason = absl::StrCat("attempt ", attempt, " failed: ", error, "; retry ", s.failures, " of ",
                            t.retries(), " in ", delay, "ms");
    return absl::OkStatus();
  }
  End(id, TaskState::kFailed,
      absl::StrCat("failed on attempt ", attempt, ": ", error,
                   t.retries() > 0 ? absl::StrCat(" (after ", t.retries(), " retries)") : ""),
      now_ms);
  return absl::OkStatus();
}

void RunState::Requeue(const std::string& id, const std::string& why, int64_t now_ms) {
  TaskStatus& s = St(id);
  if (s.state != TaskState::kClaimed && s.state != TaskState::kReady) return;
  Touch(id);
  s.state = TaskState::kReady;
  s.published = false;
  ++s.attempt;
  s.retry_at_ms = now_ms;
  s.reason = absl::StrCat("re-queued as attempt ", s.attempt, ": ", why);
  s.worker.clear();
}

void RunState::Waiting(const std::string& id, const std::string& why, int64_t now_ms) {
  TaskStatus& s = St(id);
  if (s.waiting_since_ms == 0) s.waiting_since_ms = now_ms;
  s.reason = why;
}

void RunState::Skip(const std::string& id, const std::string& why, int64_t now_ms) {
  if (Terminal(St(id).state)) return;
  End(id, TaskState::kSkipped, why, now_ms);
}

void RunState::Cancel(const std::string& why, int64_t now_ms) {
  for (int i = 0; i < dag_.tasks_size(); ++i) {
    if (!Terminal(status_[i].state)) End(dag_.tasks(i).id(), TaskState::kCancelled, why, now_ms);
  }
}

absl::Status RunState::Retry(const std::string& id, int64_t now_ms) {
  if (!Has(id)) return absl::NotFoundError(absl::StrCat("no task '", id, "' in run ", dag_.name()));
  const TaskState st = St(id).state;
  if (st == TaskState::kSucceeded || !Terminal(st)) {
    return absl::FailedPreconditionError(
        absl::StrCat("task '", id, "' is ", TaskStateName(st),
                     "; only a failed, upstream_failed, skipped or "
                     "cancelled task can be retried"));
  }
  // It and everything downstream that ended without succeeding.
  std::set<int> again = {index_.at(id)};
  bool grew = true;
  while (grew) {
    grew = false;
    for (int i = 0; i < dag_.tasks_size(); ++i) {
      if (again.count(i) || status_[i].state == TaskState::kSucceeded) continue;
      for (int need : needs_[i]) {
        if (again.count(need) && Terminal(status_[i].state)) {
          again.insert(i);
          grew = true;
          break;
        }
      }
    }
  }
  for (int i : again) {
    Touch(dag_.tasks(i).id());
    TaskStatus fresh;
    fresh.attempt = status_[i].attempt;  // Advance continues the count.
    fresh.reason = "retried by the operator";
    status_[i] = fresh;
  }
  Advance(now_ms);
  return absl::OkStatus();
}

bool RunState::Done() const {
  for (const TaskStatus& s : status_) {
    if (!Terminal(s.state)) return false;
  }
  return true;
}

v1::RunSnapshot RunState::Snapshot() const {
  v1::RunSnapshot out;
  out.set_run(dag_.name());
  for (const v1::Task& t : dag_.tasks()) *out.add_tasks() = TaskSnapshotOf(t.id());
  return out;
}

v1::TaskSnapshot RunState::TaskSnapshotOf(const std::string& id) const {
  const TaskStatus& s = status(id);
  v1::TaskSnapshot out;
  v1::TaskSnapshot* ts = &out;
  {
    ts->set_id(id);
    ts->set_state(TaskStateName(s.state));
    ts->set_attempt(s.attempt);
    ts->set_failures(s.failures);
    ts->set_published(s.published);
    ts->set_worker(s.worker);
    ts->set_reason(s.reason);
    ts->set_output(s.output);
    ts->set_retry_at_unix_ms(s.retry_at_ms);
    ts->set_claimed_unix_ms(s.claimed_ms);
    ts->set_started_unix_ms(s.started_ms);
    ts->set_ended_unix_ms(s.ended_ms);
  }
  return out;
}

absl::Status RunState::Restore(const v1::RunSnapshot& snapshot) {
  for (const v1::TaskSnapshot& ts : snapshot.tasks()) {
    absl::Status applied = Apply(ts);
    if (!applied.ok()) return applied;
  }
  return absl::OkStatus();
}

absl::Status RunState::Apply(const v1::TaskSnapshot& ts) {
  {
    std::optional<TaskState> state = TaskStateFromName(ts.state());
    if (!Has(ts.id()) || !state.has_value()) {
      return absl::DataLossError(absl::StrCat("the saved state names task '", ts.id(),
                                              "' in state '", ts.state(),
                                              "', which this run does not have"));
    }
    TaskStatus& s = St(ts.id());
    advance_due_ = true;
    s.state = *state;
    s.attempt = ts.attempt();
    s.failures = ts.failures();
    s.published = ts.published();
    s.worker = ts.worker();
    s.reason = ts.reason();
    s.output = ts.output();
    s.retry_at_ms = ts.retry_at_unix_ms();
    s.claimed_ms = ts.claimed_unix_ms();
    s.started_ms = ts.started_unix_ms();
    s.ended_ms = ts.ended_unix_ms();
  }
  return absl::OkStatus();
}

std::map<std::string, int> RunState::Counts() const {
  std::map<std::string, int> out;
  for (const TaskStatus& s : status_) ++out[TaskStateName(s.state)];
  return out;
}

}  // namespace fleet::bus
