#include "core/modules/bus/work_bus.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/bus/dag_file.h"
#include "core/log/log.h"
#include "core/os/files.h"

namespace fleet::modules {
namespace {

namespace ctl = ::fleet::control::v1;

constexpr uint32_t kMask = IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_ATTRIB;
// Without inotify, a pass this often (it rescans everything).
constexpr absl::Duration kPollEvery = absl::Seconds(1);
// A bus another conductor holds is tried again this often.
constexpr absl::Duration kLockRetry = absl::Seconds(5);

absl::Status Off() { return absl::UnavailableError("the work-bus is off (see fleetd's log)"); }

}  // namespace

WorkBus::WorkBus(module::ModuleHost* host, bool fsync) : host_(host), fsync_(fsync) {}

WorkBus::~WorkBus() {
  worker_.reset();  // Joins the bus thread before the conductor goes.
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void WorkBus::OnConfig(const config::LoadedConfig& loaded) {
  const auto& external = loaded.config.bus().external_capabilities();
  external_ = std::set<std::string>(external.begin(), external.end());
  if (!opened_) {
    opened_ = true;
    Open();
  }
  PollIfExternal();
}

void WorkBus::PollIfExternal() {
  if (!conducting_ || external_.empty() || polling_) return;
  // Workers elsewhere write to a shared file system, whose changes
  // inotify here never hears of.
  polling_ = true;
  poll_due_ = host_->Now();
  log::Info(absl::StrCat("work-bus: capabilities served elsewhere; a pass every ",
                         absl::FormatDuration(kPollEvery),
                         " (inotify does not see other hosts' writes)"));
}

bool WorkBus::LockBus() {
  if (lock_fd_ >= 0) return true;
  const std::string path = os::JoinPath(dir_, "conductor.lock");
  std::string error;
  if (absl::Status made = os::MakeDirs(dir_, 0700); !made.ok()) {
    error = std::string(made.message());
  } else {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      error = absl::StrCat("open ", path, ": ", strerror(errno));
    } else if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      error = errno == EWOULDBLOCK
                  ? absl::StrCat(path,
                                 " is held by another conductor (a fleetd on another "
                                 "host sharing this bus directory?)")
                  : absl::StrCat("flock ", path, ": ", strerror(errno));
      ::close(fd);
    } else {
      lock_fd_ = fd;
      if (!lock_error_.empty()) {
        host_->Emit("fleetd", "bus_conductor", "this fleetd conducts the bus now");
      }
      lock_error_.clear();
      return true;
    }
  }
  if (error != lock_error_) {
    host_->Emit("fleetd", "bus_conductor_elsewhere",
                absl::StrCat("work-bus: ", error, "; the bus is off here, tried again every ",
                             absl::FormatDuration(kLockRetry)));
    lock_error_ = error;
  }
  return false;
}

WorkBus::Conducting WorkBus::Conduct() {
  if (!LockBus()) return Conducting::kElsewhere;
  auto conductor = std::make_unique<bus::Conductor>(dir_, fsync_);
  std::vector<bus::BusEvent> events;
  absl::Status ready = conductor->Init(&events);
  if (!ready.ok()) {
    log::Error(absl::StrCat("work-bus: ", ready.message(), "; the bus is off"));
    return Conducting::kBroken;
  }
  for (const bus::BusEvent& e : events) host_->Emit(e.subject, e.kind, e.message);
  conductor_ = std::move(conductor);
  return Conducting::kYes;
}

void WorkBus::Open() {
  // Before the loop runs: the bus thread does not exist yet, so the first
  // look at the bus may touch the disk here.
  dir_ = os::JoinPath(host_->run_dir(), "bus");
  worker_ = std::make_unique<plugin_host::SerialWorker>();
  inotify_fd_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (inotify_fd_ < 0) {
    StartPolling(absl::StrCat("inotify_init1: ", strerror(errno),
                              " (fs.inotify.max_user_instances is used up)"));
  } else if (!host_->WatchFd(inotify_fd_, [this] { OnWatchEvents(); })) {
    StartPolling("its inotify descriptor cannot join the loop");
  }
  // One conductor per bus directory, even on a volume several hosts share.
  const Conducting conducting = Conduct();
  conducting_ = conducting == Conducting::kYes;
  if (conducting_) due_ms_ = conductor_->NextDeadline();
  if (conducting == Conducting::kElsewhere) lock_retry_due_ = host_->Now() + kLockRetry;
  Watch();
}

void WorkBus::TryConductAgain() {
  lock_retry_due_.reset();
  // The lock, and reading every run back, on the bus thread: a shared
  // volume that hangs delays the bus, never supervision.
  const bool posted = Post([this] {
    const Conducting conducting = Conduct();
    std::optional<int64_t> due;
    if (conducting == Conducting::kYes) due = conductor_->NextDeadline();
    host_->Post([this, conducting, due] {
      if (conducting == Conducting::kElsewhere) lock_retry_due_ = host_->Now() + kLockRetry;
      if (conducting != Conducting::kYes) return;
      conducting_ = true;
      due_ms_ = due;
      dirty_ = true;
      PollIfExternal();
      Watch();
    });
  });
  if (!posted) lock_retry_due_ = host_->Now() + kLockRetry;
}

void WorkBus::StartPolling(const std::string& why) {
  if (polling_) return;
  polling_ = true;
  poll_due_ = host_->Now();
  host_->Emit(
      "fleetd", "inotify_unavailable",
      absl::StrCat("work-bus: ", why, ": a pass runs every ", absl::FormatDuration(kPollEvery),
                   " instead of as its files change (raise the limit and restart "
                   "fleetd to watch them again)"));
}

bool WorkBus::Post(std::function<void()> fn) {
  return worker_ != nullptr && worker_->Submit(std::move(fn));
}

void WorkBus::Changed() {
  host_->Post([this] { dirty_ = true; });
}

void WorkBus::Watch() {
  if (!conducting_ || polling_) return;  // Polling: every pass rescans.
  std::vector<std::string> dirs = {os::JoinPath(dir_, "results"), os::JoinPath(dir_, "cur")};
  for (const std::string& worker : os::ListDirectory(os::JoinPath(dir_, "cur"))) {
    dirs.push_back(os::JoinPath(dir_, "cur/" + worker));
  }
  for (const std::string& d : dirs) {
    if (watched_.count(d)) continue;
    if (::inotify_add_watch(inotify_fd_, d.c_str(), kMask) < 0) {
      if (errno == ENOSPC) {
        StartPolling("inotify: fs.inotify.max_user_watches is used up");
        return;
      }
      continue;
    }
    watched_.insert(d);
  }
}

void WorkBus::OnWatchEvents() {
  // What changed does not matter: a pass looks at everything.
  alignas(inotify_event) char buffer[4096];
  bool overflow = false;
  ssize_t n;
  while ((n = ::read(inotify_fd_, buffer, sizeof(buffer))) > 0) {
    for (char* p = buffer; p < buffer + n;) {
      auto* event = reinterpret_cast<inotify_event*>(p);
      if (event->mask & IN_Q_OVERFLOW) overflow = true;
      p += sizeof(inotify_event) + event->len;
    }
  }
  if (overflow) {
    log::Warning(
        "work-bus: inotify queue overflowed: events were dropped; the next pass "
        "rescans everything");
  }
  dirty_ = true;
}

void WorkBus::OnExit(const module::InstanceView& inst, const os::ExitStatus& status) {
  // A worker's claims die with it: the bus looks at once, not at its next
  // lease check.
  if (!inst.spec.capabilities().empty()) dirty_ = true;
}

void WorkBus::OnHealthChanged(const module::InstanceView& inst) {
  if (!inst.spec.capabilities().empty()) dirty_ = true;
}

bus::FleetView WorkBus::View() {
  bus::FleetView view;
  host_->ForEachInstance([&view](const module::InstanceView& inst) {
    namespace st = fleet::control::v1;
    for (const std::string& capability : inst.spec.capabilities()) {
      view.declared.insert(capability);
      if (!inst.wanted) continue;
      const st::InstanceState s = inst.state;
      if ((s == st::INSTANCE_STATE_RUNNING || s == st::INSTANCE_STATE_IDLE) && !inst.unhealthy) {
        view.healthy.insert(capability);
      } else if (s == st::INSTANCE_STATE_STARTING || s == st::INSTANCE_STATE_BACKOFF ||
                 s == st::INSTANCE_STATE_WAITING || s == st::INSTANCE_STATE_STOPPED ||
                 s == st::INSTANCE_STATE_RUNNING) {
        view.coming.insert(capability);  // Starting, restarting, or unhealthy for now.
      }
    }
    view.workers[absl::StrCat(inst.spec.name(), ".", inst.index)] =
        inst.pid != 0 ? absl::ToUnixMillis(inst.started_wall) : 0;
  });
  // Served by workers this fleetd does not run: offered, judged by lease.
  for (const std::string& capability : external_) {
    view.declared.insert(capability);
    view.healthy.insert(capability);
  }
  return view;
}

std::optional<os::MonoTime> WorkBus::NextDeadline() const {
  if (!conducting_) return lock_retry_due_;
  if (pass_running_) return std::nullopt;  // Its end looks again.
  if (dirty_) return host_->Now();
  std::optional<os::MonoTime> next = poll_due_;
  if (due_ms_.has_value()) {
    const int64_t wall = absl::ToUnixMillis(host_->WallNow());
    const os::MonoTime due =
        host_->Now() + absl::Milliseconds(std::max<int64_t>(0, *due_ms_ - wall));
    if (!next.has_value() || due < *next) next = due;
  }
  return next;
}

void WorkBus::OnDeadline() {
  if (!conducting_ && lock_retry_due_.has_value() && host_->Now() >= *lock_retry_due_) {
    TryConductAgain();
  }
  if (!conducting_ || pass_running_) return;
  dirty_ = false;
  if (polling_) poll_due_ = host_->Now() + kPollEvery;
  Watch();  // New workers' claim directories.
  pass_running_ = true;
  const int64_t wall = absl::ToUnixMillis(host_->WallNow());
  bus::FleetView view = View();
  const bool posted = Post([this, wall, view = std::move(view)] {
    std::vector<bus::BusEvent> events = conductor_->Pass(wall, view);
    for (const bus::BusEvent& e : events) host_->Emit(e.subject, e.kind, e.message);
    Count(events);
    std::optional<int64_t> due = conductor_->NextDeadline();
    host_->Post([this, due, figures = counting_] {
      pass_running_ = false;
      due_ms_ = due;
      figures_ = figures;
    });
  });
  if (!posted) pass_running_ = false;
}

void WorkBus::Count(const std::vector<bus::BusEvent>& events) {
  for (const bus::BusEvent& e : events) {
    if (e.kind == "task_requeued") ++counting_.requeued;
    if (e.kind == "result_quarantined") ++counting_.quarantined;
    if (e.kind != "task_succeeded" && e.kind != "task_failed") continue;
    // "bus/RUN/TASK"
    const std::vector<std::string> parts = absl::StrSplit(e.subject, absl::MaxSplits('/', 2));
    if (parts.size() != 3) continue;
    auto run = conductor_->runs().find(parts[1]);
    if (run == conductor_->runs().end() || !run->second->Has(parts[2])) continue;
    const bus::TaskStatus& task = run->second->status(parts[2]);
    if (task.started_ms > 0 && task.ended_ms >= task.started_ms) {
      counting_.latency.Add(static_cast<double>(task.ended_ms - task.started_ms) / 1000.0);
    }
  }
  counting_.tasks_by_state.clear();
  for (const auto& [name, state] : conductor_->runs()) {
    for (const auto& [task_state, n] : state->Counts()) counting_.tasks_by_state[task_state] += n;
  }
}

void WorkBus::FillMetrics(ctl::GetStatusResponse* status) const {
  if (!conducting_) return;  // No bus: no series.
  metrics::Series tasks = metrics::Series::Gauge(
      status, "fleet_bus_tasks", "Tasks of the runs the bus holds, by state (after its last pass)");
  for (bus::TaskState state :
       {bus::TaskState::kPending, bus::TaskState::kReady, bus::TaskState::kClaimed,
        bus::TaskState::kSucceeded, bus::TaskState::kFailed, bus::TaskState::kSkipped,
        bus::TaskState::kUpstreamFailed, bus::TaskState::kCancelled}) {
    const std::string name = bus::TaskStateName(state);
    auto it = figures_.tasks_by_state.find(name);
    tasks.Add({{"state", name}}, it == figures_.tasks_by_state.end() ? 0 : it->second);
  }
  metrics::Series::Counter(status, "fleet_bus_tasks_requeued_total",
                           "Claims put back on offer (the worker died or its lease lapsed)")
      .Add({}, static_cast<double>(figures_.requeued));
  metrics::Series::Counter(status, "fleet_bus_results_quarantined_total",
                           "Result files refused and moved to quarantine/ (stale, unknown, "
                           "unreadable)")
      .Add({}, static_cast<double>(figures_.quarantined));
  metrics::Series::Histogram(status, "fleet_bus_task_latency_seconds",
                             "From a task's first offer to its result (succeeded or failed)")
      .Add({}, figures_.latency);
}

absl::StatusOr<ctl::BusSubmitResponse> WorkBus::Submit(const ctl::BusSubmitRequest& request) {
  if (conductor_ == nullptr) return Off();
  const std::string path = request.dag_path().empty() ? "dag.yaml" : request.dag_path();
  absl::StatusOr<fleet::bus::v1::Dag> dag =
      bus::LoadDagFromString(request.dag_text(), path, os::DirName(path));
  if (!dag.ok()) return dag.status();
  const uint32_t tasks = static_cast<uint32_t>(dag->tasks_size());
  absl::StatusOr<std::string> run =
      conductor_->Submit(*std::move(dag), request.run(), absl::ToUnixMillis(host_->WallNow()));
  if (!run.ok()) return run.status();
  host_->Emit(absl::StrCat("bus/", *run), "run_submitted",
              absl::StrCat(tasks, " tasks from ", path));
  Changed();
  ctl::BusSubmitResponse response;
  response.set_run(*run);
  response.set_tasks(tasks);
  return response;
}

absl::StatusOr<ctl::BusStatusResponse> WorkBus::Status(const std::string& run) const {
  if (conductor_ == nullptr) return Off();
  ctl::BusStatusResponse response;
  const int64_t wall = absl::ToUnixMillis(host_->WallNow());
  for (const auto& [name, state] : conductor_->runs()) {
    if (!run.empty() && name != run) continue;
    ctl::BusRunStatus* r = response.add_runs();
    r->set_run(name);
    r->set_done(state->Done());
    for (const auto& [st, n] : state->Counts()) (*r->mutable_counts())[st] = n;
    for (const fleet::bus::v1::Task& t : state->dag().tasks()) {
      const bus::TaskStatus& s = state->status(t.id());
      ctl::BusTaskStatus* out = r->add_tasks();
      out->set_id(t.id());
      out->set_capability(t.capability());
      for (const std::string& need : t.needs()) out->add_needs(need);
      out->set_state(bus::TaskStateName(s.state));
      out->set_attempt(s.attempt);
      out->set_worker(s.worker);
      out->set_reason(s.reason);
      if (s.started_ms > 0) {
        out->set_duration_ms((s.ended_ms > 0 ? s.ended_ms : wall) - s.started_ms);
      }
    }
  }
  if (!run.empty() && response.runs().empty()) {
    return absl::NotFoundError(absl::StrCat("no run '", run, "'"));
  }
  return response;
}

absl::StatusOr<ctl::ActionResponse> WorkBus::Cancel(const std::string& run) {
  if (conductor_ == nullptr) return Off();
  absl::Status cancelled = conductor_->Cancel(run, absl::ToUnixMillis(host_->WallNow()));
  if (!cancelled.ok()) return cancelled;
  host_->Emit(absl::StrCat("bus/", run), "run_cancelled", "cancelled by the operator");
  ctl::ActionResponse response;
  response.add_changed(absl::StrCat(run, ": cancelled"));
  Changed();
  return response;
}

absl::StatusOr<ctl::ActionResponse> WorkBus::Retry(const std::string& run,
                                                   const std::string& task) {
  if (conductor_ == nullptr) return Off();
  absl::Status retried = conductor_->Retry(run, task, absl::ToUnixMillis(host_->WallNow()));
  if (!retried.ok()) return retried;
  host_->Emit(absl::StrCat("bus/", run, "/", task), "task_retried", "retried by the operator");
  ctl::ActionResponse response;
  response.add_changed(absl::StrCat(run, "/", task, ": retried"));
  Changed();
  return response;
}

}  // namespace fleet::modules
