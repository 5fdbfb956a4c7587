// The work-bus, loop side: the conductor (core/bus) runs a pass whenever
// its files change (inotify on results/ and on every worker's claim
// directory; an overflow is just another full pass) or a deadline of its own
// comes (a retry delay, a lease check, a timeout). It sees the fleet through
// a FleetView: which capabilities have a healthy instance, and which workers
// (ENGINE.N) are running. The conductor itself, with every read, rename
// and fsync it makes, lives on the bus thread: the loop hands it a FleetView
// and takes back its events and next deadline, and the bus RPCs run there
// too, so a slow disk delays the bus, never supervision.
#include <errno.h>
#include <sys/inotify.h>

#include "absl/strings/str_cat.h"
#include "core/bus/dag_file.h"
#include "core/log/log.h"
#include "core/os/files.h"
#include "core/supervisor/supervisor.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {
namespace {

namespace v1 = ::fleet::config::v1;
namespace ctl = ::fleet::control::v1;

constexpr uint32_t kBusMask = IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_ATTRIB;

}  // namespace

void Supervisor::InitBus() {
  // Before the loop runs: the bus thread does not exist yet.
  bus_dir_ = os::JoinPath(options_.run_dir, "bus");
  conductor_ = std::make_unique<bus::Conductor>(bus_dir_, options_.bus_fsync);
  std::vector<bus::BusEvent> events;
  absl::Status ready = conductor_->Init(&events);
  if (!ready.ok()) {
    log::Error(absl::StrCat("work-bus: ", ready.message(), "; the bus is off"));
    conductor_.reset();
    return;
  }
  for (const bus::BusEvent& e : events) Emit(e.subject, e.kind, e.message);
  bus_due_ms_ = conductor_->NextDeadline();
  bus_worker_ = std::make_unique<plugin_host::SerialWorker>();
  WatchBus();
}

bool Supervisor::PostToBus(std::function<void()> fn) {
  return bus_worker_ != nullptr && bus_worker_->Submit(std::move(fn));
}

void Supervisor::BusChanged() {
  Post([this] { bus_dirty_ = dirty_ = true; });
}

void Supervisor::WatchBus() {
  if (conductor_ == nullptr || polling_) return;  // Polling: every rescan is a pass.
  const std::string& dir = bus_dir_;
  std::vector<std::string> dirs = {os::JoinPath(dir, "results"), os::JoinPath(dir, "cur")};
  for (const std::string& worker : os::ListDirectory(os::JoinPath(dir, "cur"))) {
    dirs.push_back(os::JoinPath(dir, "cur/" + worker));
  }
  for (const std::string& d : dirs) {
    if (bus_watched_.count(d)) continue;
    int wd = ::inotify_add_watch(inotify_fd_, d.c_str(), kBusMask);
    if (wd < 0 && errno == ENOSPC) {
      StartPolling("inotify: fs.inotify.max_user_watches is used up");
      return;
    }
    if (wd < 0) continue;
    bus_watched_.insert(d);
    bus_watches_.insert(wd);
  }
}

bool Supervisor::OnBusWatch(int wd) {
  if (!bus_watches_.count(wd)) return false;
  bus_dirty_ = true;
  dirty_ = true;
  return true;
}

bus::FleetView Supervisor::BusView() const {
  bus::FleetView view;
  for (const auto& [name, engine] : engines_) {
    for (const std::string& capability : engine->spec->capabilities()) {
      view.declared.insert(capability);
      for (const auto& inst : engine->instances) {
        const State s = inst->life.state();
        if (inst->retire || !inst->want_run) continue;
        if ((s == State::kRunning || s == State::kIdle) && !inst->unhealthy) {
          view.healthy.insert(capability);
        } else if (s == State::kStarting || s == State::kBackoff || s == State::kWaiting ||
                   s == State::kStopped || s == State::kRunning) {
          view.coming.insert(capability);  // Starting, restarting, or unhealthy for now.
        }
      }
    }
    for (const auto& inst : engine->instances) {
      view.workers[absl::StrCat(name, ".", inst->index)] =
          inst->life.HasProcess() ? absl::ToUnixMillis(inst->started_wall) : 0;
    }
  }
  return view;
}

void Supervisor::RunBus() {
  if (conductor_ == nullptr || bus_pass_running_) return;  // Its end looks again.
  const int64_t wall = absl::ToUnixMillis(clock_->WallNow());
  if (!bus_dirty_ && (!bus_due_ms_.has_value() || *bus_due_ms_ > wall)) return;
  bus_dirty_ = false;
  WatchBus();  // New workers' claim directories.
  bus_pass_running_ = true;
  bus::FleetView view = BusView();
  const bool posted = PostToBus([this, wall, view = std::move(view)] {
    std::vector<bus::BusEvent> events = conductor_->Pass(wall, view);
    for (const bus::BusEvent& e : events) Emit(e.subject, e.kind, e.message);
    std::optional<int64_t> due = conductor_->NextDeadline();
    Post([this, due] {
      bus_pass_running_ = false;
      bus_due_ms_ = due;
      dirty_ = true;  // The deadline moved, or changes came during the pass.
    });
  });
  if (!posted) bus_pass_running_ = false;
}

std::optional<MonoTime> Supervisor::NextBusDeadline() const {
  if (conductor_ == nullptr || bus_pass_running_) return std::nullopt;
  if (!bus_due_ms_.has_value()) return std::nullopt;
  const int64_t wall = absl::ToUnixMillis(clock_->WallNow());
  return now_ + absl::Milliseconds(std::max<int64_t>(0, *bus_due_ms_ - wall));
}

absl::StatusOr<ctl::BusSubmitResponse> Supervisor::BusSubmit(const ctl::BusSubmitRequest& request) {
  if (conductor_ == nullptr)
    return absl::UnavailableError("the work-bus is off (see fleetd's log)");
  const std::string path = request.dag_path().empty() ? "dag.yaml" : request.dag_path();
  absl::StatusOr<fleet::bus::v1::Dag> dag =
      bus::LoadDagFromString(request.dag_text(), path, os::DirName(path));
  if (!dag.ok()) return dag.status();
  const uint32_t tasks = static_cast<uint32_t>(dag->tasks_size());
  absl::StatusOr<std::string> run =
      conductor_->Submit(*std::move(dag), request.run(), absl::ToUnixMillis(clock_->WallNow()));
  if (!run.ok()) return run.status();
  Emit(absl::StrCat("bus/", *run), "run_submitted", absl::StrCat(tasks, " tasks from ", path));
  BusChanged();
  ctl::BusSubmitResponse response;
  response.set_run(*run);
  response.set_tasks(tasks);
  return response;
}

absl::StatusOr<ctl::BusStatusResponse> Supervisor::BusStatus(const std::string& run) const {
  if (conductor_ == nullptr)
    return absl::UnavailableError("the work-bus is off (see fleetd's log)");
  ctl::BusStatusResponse response;
  const int64_t wall = absl::ToUnixMillis(clock_->WallNow());
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

absl::StatusOr<ctl::ActionResponse> Supervisor::BusCancel(const std::string& run) {
  if (conductor_ == nullptr)
    return absl::UnavailableError("the work-bus is off (see fleetd's log)");
  absl::Status cancelled = conductor_->Cancel(run, absl::ToUnixMillis(clock_->WallNow()));
  if (!cancelled.ok()) return cancelled;
  Emit(absl::StrCat("bus/", run), "run_cancelled", "cancelled by the operator");
  ctl::ActionResponse response;
  response.add_changed(absl::StrCat(run, ": cancelled"));
  BusChanged();
  return response;
}

absl::StatusOr<ctl::ActionResponse> Supervisor::BusRetry(const std::string& run,
                                                         const std::string& task) {
  if (conductor_ == nullptr)
    return absl::UnavailableError("the work-bus is off (see fleetd's log)");
  absl::Status retried = conductor_->Retry(run, task, absl::ToUnixMillis(clock_->WallNow()));
  if (!retried.ok()) return retried;
  Emit(absl::StrCat("bus/", run, "/", task), "task_retried", "retried by the operator");
  ctl::ActionResponse response;
  response.add_changed(absl::StrCat(run, "/", task, ": retried"));
  BusChanged();
  return response;
}

}  // namespace fleet::supervisor
