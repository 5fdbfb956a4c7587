#include "core/bus/conductor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/os/env.h"
#include "core/bus/ids.h"
#include "core/bus/json_codec.h"
#include "core/os/files.h"
#include "google/protobuf/util/time_util.h"

namespace fleet::bus {
namespace {

namespace v1 = ::fleet::bus::v1;

constexpr int kOfferWindow = 64;
// A run's own files (DAG, snapshot, journal) are fleetd's, but they sit where
// a worker can write: read bounded, like everything in the run dir.
constexpr size_t kMaxRunFileBytes = 256u << 20;

}  // namespace

Conductor::Conductor(std::string bus_dir, bool fsync, int64_t lease_ms)
    : mailbox_(std::move(bus_dir), fsync), lease_ms_(lease_ms) {}

absl::Status Conductor::Init(std::vector<BusEvent>* events) {
  absl::Status made = mailbox_.Init();
  if (!made.ok()) return made;
  const std::string runs_dir = os::JoinPath(mailbox_.dir(), "runs");
  for (const std::string& run : os::ListDirectory(runs_dir)) {
    const std::string dir = os::JoinPath(runs_dir, run);
    v1::Dag dag;
    v1::RunSnapshot snapshot;
    absl::StatusOr<std::string> dag_text = os::ReadUntrustedFile(os::JoinPath(dir, "dag.json"), kMaxRunFileBytes);
    absl::StatusOr<std::string> state_text = os::ReadUntrustedFile(os::JoinPath(dir, "state.json"), kMaxRunFileBytes);
    absl::Status problem;
    if (!dag_text.ok()) {
      problem = dag_text.status();
    } else if (auto s = FromJson(*dag_text, &dag); !s.ok()) {
      problem = absl::DataLossError(absl::StrCat("dag.json: ", s.message()));
    } else if (state_text.ok()) {
      if (auto s = FromJson(*state_text, &snapshot); !s.ok()) {
        problem = absl::DataLossError(absl::StrCat("state.json: ", s.message()));
      }
    }
    auto state = std::make_unique<RunState>(dag);
    if (problem.ok() && state_text.ok()) problem = state->Restore(snapshot);
    size_t journal_lines = 0;
    if (problem.ok()) {
      // Changes since the snapshot, in order; a line cut by a crash ends it.
      absl::StatusOr<std::string> journal = os::ReadUntrustedFile(os::JoinPath(dir, "journal.jsonl"), kMaxRunFileBytes);
      for (absl::string_view line :
           absl::StrSplit(journal.ok() ? *journal : std::string(), '\n', absl::SkipEmpty())) {
        v1::TaskSnapshot task;
        if (!FromJson(std::string(line), &task).ok()) break;
        if (!state->Apply(task).ok()) break;
        ++journal_lines;
      }
      state->TakeChanged();
    }
    if (!problem.ok()) {
      events->push_back({absl::StrCat("bus/", run), "run_unreadable",
                         absl::StrCat("left as it is in ", dir, ": ", problem.message())});
      continue;
    }
    meta_[run].submitted_ms = snapshot.submitted_unix_ms();
    meta_[run].journal_lines = journal_lines;
    runs_[run] = std::move(state);
    events->push_back({absl::StrCat("bus/", run), "run_resumed",
                       runs_[run]->Done() ? "finished" : "continues from its files"});
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Conductor::Submit(v1::Dag dag, const std::string& run, int64_t now_ms) {
  std::string name = run;
  if (name.empty()) {
    for (int n = 1;; ++n) {
      name = absl::StrCat(dag.name(), "-", n);
      if (!runs_.count(name) && !os::Exists(os::JoinPath(mailbox_.dir(), "runs/" + name))) break;
    }
  }
  if (!IsValidId(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("run name '", name, "' must be 1 to 100 of [A-Za-z0-9._-], without '..'"));
  }
  if (runs_.count(name) || os::Exists(os::JoinPath(mailbox_.dir(), "runs/" + name))) {
    return absl::AlreadyExistsError(absl::StrCat("a run named '", name, "' exists already"));
  }
  dag.set_name(name);  // Task files carry the run's name.
  const std::string dir = os::JoinPath(mailbox_.dir(), "runs/" + name);
  absl::Status made = os::MakeDirs(dir, 0700);
  if (made.ok()) made = os::WriteFileAtomic(os::JoinPath(dir, "dag.json"), ToJsonLine(dag), 0600);
  if (!made.ok()) return made;
  runs_[name] = std::make_unique<RunState>(std::move(dag));
  meta_[name].submitted_ms = now_ms;
  runs_[name]->Advance(now_ms);
  meta_[name].journal_lines = std::numeric_limits<size_t>::max() / 2;  // A full snapshot first.
  absl::Status saved = Save(name);
  if (!saved.ok()) return saved;
  return name;
}

absl::Status Conductor::Save(const std::string& run) {
  RunState& state = *runs_.at(run);
  Run& meta = meta_.at(run);
  const std::string dir = os::JoinPath(mailbox_.dir(), "runs/" + run);
  std::vector<std::string> changed = state.TakeChanged();
  // A journal line per changed task; a full snapshot (and an empty journal)
  // once the journal would outgrow the run itself.
  if (meta.journal_lines + changed.size() > std::max<size_t>(1000, 2 * state.dag().tasks_size())) {
    v1::RunSnapshot snapshot = state.Snapshot();
    snapshot.set_submitted_unix_ms(meta.submitted_ms);
    absl::Status saved = os::WriteFileAtomic(os::JoinPath(dir, "state.json"), ToJsonLine(snapshot), 0600);
    if (!saved.ok()) {
      unsaved_.insert(run);
      return saved;
    }
    os::CurrentEnv()->Unlink(os::JoinPath(dir, "journal.jsonl").c_str());
    meta.journal_lines = 0;
    unsaved_.erase(run);
    return absl::OkStatus();
  }
  if (changed.empty()) return absl::OkStatus();
  std::string lines;
  for (const std::string& id : changed) lines += ToJsonLine(state.TaskSnapshotOf(id));
  const std::string path = os::JoinPath(dir, "journal.jsonl");
  int fd = os::CurrentEnv()->Open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    const absl::Status failed = absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
    meta.journal_lines = std::numeric_limits<size_t>::max() / 2;
    unsaved_.insert(run);
    return failed;
  }
  const ssize_t n = os::CurrentEnv()->Write(fd, lines.data(), lines.size());
  const int err = errno;
  if (mailbox_.fsync()) ::fdatasync(fd);
  ::close(fd);
  if (n != static_cast<ssize_t>(lines.size())) {
    // The changes taken are in no file (and a cut line may end the
    // journal): the next save writes a full snapshot instead.
    meta.journal_lines = std::numeric_limits<size_t>::max() / 2;
    unsaved_.insert(run);
    return absl::ErrnoToStatus(n < 0 ? err : EIO, absl::StrCat("append to ", path));
  }
  meta.journal_lines += changed.size();
  unsaved_.erase(run);
  return absl::OkStatus();
}

absl::Status Conductor::Cancel(const std::string& run, int64_t now_ms) {
  auto it = runs_.find(run);
  if (it == runs_.end()) return absl::NotFoundError(absl::StrCat("no run '", run, "'"));
  // Offered tasks are taken back; claimed ones end cancelled (their late
  // results are refused as duplicates).
  for (const auto& [capability, name] : mailbox_.Offered()) {
    std::optional<RecordKey> key = ParseRecordName(name);
    if (key.has_value() && key->run == run) (void)mailbox_.Withdraw(capability, name);
  }
  it->second->Cancel("cancelled by the operator", now_ms);
  return Save(run);
}

absl::Status Conductor::Retry(const std::string& run, const std::string& task, int64_t now_ms) {
  auto it = runs_.find(run);
  if (it == runs_.end()) return absl::NotFoundError(absl::StrCat("no run '", run, "'"));
  absl::Status retried = it->second->Retry(task, now_ms);
  if (!retried.ok()) return retried;
  return Save(run);
}

std::vector<BusEvent> Conductor::Pass(int64_t now_ms, const FleetView& view) {
  last_pass_ms_ = now_ms;
  std::vector<BusEvent> events;
  AbsorbResults(now_ms, &events);
  CheckClaims(now_ms, view, &events);
  Offer(now_ms, view, &events);
  for (const std::string& run : dirty_) {
    if (absl::Status saved = Save(run); !saved.ok()) {
      events.push_back({absl::StrCat("bus/", run), "bus_error",
                        absl::StrCat("cannot save the run's state: ", saved.message())});
    }
  }
  dirty_ = unsaved_;  // Tried again at the next pass, soon.
  // Leases are checked against the claim files' mtimes at every pass: one
  // every lease/4 while anything is claimed notices a lapse within a quarter
  // lease; a task waiting for a worker to become healthy is looked at again
  // in a second (instance states do not reach the bus as file events).
  bool claimed = false;
  for (const auto& [run, state] : runs_) {
    for (const v1::Task& t : state->dag().tasks()) {
      claimed = claimed || state->status(t.id()).state == TaskState::kClaimed;
    }
  }
  recheck_at_ms_ = 0;
  if (claimed) recheck_at_ms_ = now_ms + lease_ms_ / 4;
  if (waiting_ || !unsaved_.empty()) {
    recheck_at_ms_ = recheck_at_ms_ == 0 ? now_ms + 1000 : std::min(recheck_at_ms_, now_ms + 1000);
  }
  return events;
}

void Conductor::AbsorbResults(int64_t now_ms, std::vector<BusEvent>* events) {
  // Held results whose run has been saved since leave results/ now.
  std::vector<std::string> released;
  for (auto it = held_.begin(); it != held_.end();) {
    std::optional<RecordKey> key = ParseRecordName(*it);
    if (key.has_value() && unsaved_.count(key->run)) {
      ++it;
      continue;
    }
    released.push_back(*it);
    it = held_.erase(it);
  }
  if (!released.empty()) (void)mailbox_.AbsorbAll(released);
  std::vector<std::pair<std::string, std::string>> absorbed;  // name, worker
  for (ReadResult& r : mailbox_.Results()) {
    if (held_.count(r.name)) continue;  // Applied already; its run is not saved yet.
    std::string refusal;
    if (!r.result.ok()) {
      refusal = std::string(r.result.status().message());
    } else {
      auto it = runs_.find(r.result->run());
      if (it == runs_.end()) {
        refusal = absl::StrCat("there is no run '", r.result->run(), "'");
      } else {
        const v1::ResultFile& res = *r.result;
        RunState& state = *it->second;
        const bool known = state.Has(res.task());
        // Claimed and done between two passes: the claim is learned here.
        if (known && !res.worker().empty() && IsValidId(res.worker()) &&
            state.status(res.task()).attempt == res.attempt()) {
          state.Claimed(res.task(), res.worker(), now_ms);
        }
        absl::Status applied = known ? state.Result(res.task(), res.attempt(), res.ok(),
                                                    res.output(), res.error(), now_ms)
                                     : absl::NotFoundError(absl::StrCat(
                                           "run ", res.run(), " has no task '", res.task(), "'"));
        if (applied.ok()) {
          dirty_.insert(res.run());
          absorbed.push_back({r.name, res.worker()});
          const TaskStatus& st = state.status(res.task());
          events->push_back({absl::StrCat("bus/", res.run(), "/", res.task()),
                             absl::StrCat("task_", TaskStateName(st.state)), st.reason});
          continue;
        }
        refusal = std::string(applied.message());
      }
    }
    (void)mailbox_.Quarantine(r.name, refusal);
    events->push_back({"bus", "result_quarantined", absl::StrCat(r.name, ": ", refusal)});
  }
  if (absorbed.empty()) return;
  // The runs are saved before their results leave results/: a crash in
  // between re-reads them as duplicates, never loses one. One save per run
  // per pass, however many results came.
  for (const std::string& run : dirty_) (void)Save(run);
  std::vector<std::string> names;
  for (const auto& [name, worker] : absorbed) {
    // A result whose run could not be saved stays where it is: it is the
    // only record of it until the save succeeds.
    std::optional<RecordKey> key = ParseRecordName(name);
    if (key.has_value() && unsaved_.count(key->run)) {
      held_.insert(name);
      continue;
    }
    names.push_back(name);
  }
  (void)mailbox_.AbsorbAll(names);  // One fsync of done/ for the pass.
  for (const auto& [name, worker] : absorbed) {
    if (!worker.empty()) mailbox_.DropClaim(worker, name);
  }
}

void Conductor::CheckClaims(int64_t now_ms, const FleetView& view, std::vector<BusEvent>* events) {
  for (const Mailbox::ClaimInfo& c : mailbox_.Claims()) {
    std::optional<RecordKey> key = ParseRecordName(c.name);
    if (!key.has_value()) continue;
    auto it = runs_.find(key->run);
    if (it == runs_.end() || !it->second->Has(key->task)) continue;
    RunState& state = *it->second;
    const TaskStatus& st = state.status(key->task);
    const std::string subject = absl::StrCat("bus/", key->run, "/", key->task);
    if (st.attempt != key->attempt || Terminal(st.state)) {
      mailbox_.DropClaim(c.worker, c.name);  // An old attempt's claim.
      continue;
    }
    if (st.state == TaskState::kReady) {
      state.Claimed(key->task, c.worker, now_ms);
      dirty_.insert(key->run);
      events->push_back({subject, "task_claimed", state.status(key->task).reason});
    }
    // The task's own limit first: past it the attempt failed, whoever holds it.
    const int64_t timeout =
        google::protobuf::util::TimeUtil::DurationToMilliseconds(state.task(key->task).timeout());
    if (timeout > 0 && now_ms - state.status(key->task).claimed_ms > timeout) {
      (void)state.Result(key->task, key->attempt, false, "",
                         absl::StrCat("timed out after ", timeout / 1000, "s"), now_ms);
      mailbox_.DropClaim(c.worker, c.name);
      dirty_.insert(key->run);
      events->push_back({subject, "task_timed_out", state.status(key->task).reason});
      continue;
    }
    std::string lost;
    auto worker = view.workers.find(c.worker);
    if (worker != view.workers.end() && worker->second == 0) {
      lost = absl::StrCat("worker ", c.worker, " is not running");
    } else if (worker != view.workers.end() && c.lease_renewed_unix_ms < worker->second) {
      lost = absl::StrCat("worker ", c.worker, " died and was restarted");
    } else if (now_ms - c.lease_renewed_unix_ms > lease_ms_) {
      lost = absl::StrCat("worker ", c.worker, "'s lease lapsed (no heartbeat for ",
                          (now_ms - c.lease_renewed_unix_ms) / 1000, "s)");
    }
    if (!lost.empty()) {
      state.Requeue(key->task, lost, now_ms);
      mailbox_.DropClaim(c.worker, c.name);
      dirty_.insert(key->run);
      events->push_back({subject, "task_requeued", state.status(key->task).reason});
    }
  }
}

void Conductor::Offer(int64_t now_ms, const FleetView& view, std::vector<BusEvent>* events) {
  waiting_ = false;
  // At most kOfferWindow tasks wait in a capability's new/ directory; the
  // rest are offered as those are claimed. A claim then reads a short
  // directory (a long one, even emptied, is scanned whole by readdir).
  std::map<std::string, int> offered;
  for (const auto& [run, state] : runs_) {
    for (const v1::Task& t : state->dag().tasks()) {
      const TaskStatus& s = state->status(t.id());
      if (s.state == TaskState::kReady && s.published) ++offered[t.capability()];
    }
  }
  for (auto& [run, state] : runs_) {
    state->Advance(now_ms);
    std::vector<v1::TaskFile> files;
    for (const std::string& id : state->ToPublish(now_ms)) {
      const v1::Task& t = state->task(id);
      const std::string subject = absl::StrCat("bus/", run, "/", id);
      if (view.healthy.count(t.capability()) && offered[t.capability()] >= kOfferWindow) {
        continue;  // Offered when the window has room.
      }
      if (!view.healthy.count(t.capability())) {
        const int64_t since = state->status(id).waiting_since_ms;
        const int64_t limit = google::protobuf::util::TimeUtil::DurationToMilliseconds(t.timeout());
        if (view.coming.count(t.capability()) && (since == 0 || now_ms - since < limit)) {
          if (since == 0) {
            events->push_back({subject, "task_waiting",
                               absl::StrCat("no worker with capability ", t.capability(),
                                            " is healthy yet; one is starting")});
          }
          state->Waiting(
              id, absl::StrCat("waiting for a healthy worker with capability ", t.capability()),
              now_ms);
          waiting_ = true;
          continue;
        }
        std::string why = absl::StrCat("no healthy worker with capability ", t.capability());
        if (!view.declared.count(t.capability())) {
          absl::StrAppend(&why, " (no engine declares it)");
        } else if (since > 0) {
          absl::StrAppend(&why, " within its timeout of ", limit / 1000, "s");
        }
        state->Skip(id, why, now_ms);
        events->push_back({subject, "task_skipped", state->status(id).reason});
        dirty_.insert(run);
        continue;
      }
      v1::TaskFile file;
      file.set_run(run);
      file.set_task(id);
      file.set_attempt(state->status(id).attempt);
      file.set_capability(t.capability());
      file.set_input(t.input());
      for (const std::string& need : t.needs()) {
        (*file.mutable_upstream())[need] = state->status(need).output;
      }
      file.set_published_unix_ms(now_ms);
      file.set_lease_ms(lease_ms_);
      const std::string name = RecordName(run, id, file.attempt());
      file.set_id(name.substr(0, name.size() - 5));
      ++offered[t.capability()];
      files.push_back(std::move(file));
    }
    // Published together: one fsync per capability directory for the pass.
    const std::vector<absl::Status> published = mailbox_.PublishAll(files);
    for (size_t i = 0; i < files.size(); ++i) {
      const v1::TaskFile& file = files[i];
      const std::string subject = absl::StrCat("bus/", run, "/", file.task());
      if (!published[i].ok()) {
        events->push_back(
            {subject, "bus_error", absl::StrCat("cannot offer it: ", published[i].message())});
        continue;
      }
      state->Published(file.task(), now_ms);
      dirty_.insert(run);
      events->push_back(
          {subject, "task_offered",
           absl::StrCat("to capability ", file.capability(), " (attempt ", file.attempt(), ")")});
    }
    // What the skips ended downstream.
    state->Advance(now_ms);
  }
}

std::optional<int64_t> Conductor::NextDeadline() const {
  std::optional<int64_t> next;
  auto consider = [&](int64_t t) {
    if (!next.has_value() || t < *next) next = t;
  };
  for (const auto& [run, state] : runs_) {
    for (const v1::Task& t : state->dag().tasks()) {
      const TaskStatus& s = state->status(t.id());
      // A retry delay still to run; a task that was due at the last pass
      // and stayed unoffered waits for room in the offer window (a claim:
      // a file event) or a worker (a health change, or the recheck).
      if (s.state == TaskState::kReady && !s.published && s.retry_at_ms > last_pass_ms_) {
        consider(s.retry_at_ms);
      }
      if (s.state == TaskState::kClaimed) {
        consider(s.claimed_ms +
                 google::protobuf::util::TimeUtil::DurationToMilliseconds(t.timeout()));
      }
    }
  }
  if (recheck_at_ms_ > 0) consider(recheck_at_ms_);
  return next;
}

}  // namespace fleet::bus
