// fleetd's own death: every running instance has a record (pid, start time,
// definition hash) and an output FIFO that outlive fleetd. A new fleetd takes
// back each instance whose recorded process still runs (same pid AND start
// time, so a reused pid is never taken for a worker), watches it through a
// pidfd (it is not our child), reads its output from the FIFO again, and
// restarts it only if its definition changed meanwhile. Instances that died
// meanwhile are started as usual; survivors the config no longer has are
// stopped. Nothing runs twice. Loop thread only.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "core/log/log.h"
#include "core/os/cgroup.h"
#include "core/os/files.h"
#include "core/os/process.h"
#include "core/supervisor/instance_records.h"
#include "core/supervisor/supervisor.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {

namespace v1 = ::fleet::config::v1;

namespace {
constexpr absl::Duration kRecordRetryEvery = absl::Seconds(1);
// How long a survivor the config no longer has gets to stop on SIGTERM
// (its engine's own grace is gone with its definition): systemd's default.
constexpr absl::Duration kOrphanGrace = absl::Seconds(10);
// A killed earlier copy is looked at again this often until it is gone.
constexpr absl::Duration kDyingCheckEvery = absl::Milliseconds(10);
}  // namespace



void Supervisor::AdoptSurvivors() {
  if (adopted_once_) return;
  adopted_once_ = true;
  std::vector<std::string> errors;
  std::vector<InstanceRecord> records = ReadInstanceRecords(options_.run_dir, &errors);
  for (const std::string& e : errors) Emit("fleetd", "record_invalid", e);
  for (const InstanceRecord& r : records) {
    const std::string id = absl::StrCat(r.engine, "/", r.index);
    std::optional<uint64_t> start = os::ProcessStartTime(r.pid);
    if (!start.has_value() || *start != r.start_time) {
      RemoveInstanceRecord(options_.run_dir, r.engine, r.index);
      Emit(id, "lost",
           absl::StrCat("pid ", r.pid, " ended while fleetd was down",
                        start.has_value() ? " (the pid now belongs to another process)" : "",
                        "; it is started again"));
      continue;
    }
    Instance* inst = nullptr;
    auto it = engines_.find(r.engine);
    if (it != engines_.end() && r.index < it->second->instances.size() &&
        !it->second->instances[r.index]->retire) {
      inst = it->second->instances[r.index].get();
    }
    if (inst == nullptr) {
      // Ran under an older config: nothing wants it now.
      for (int sig : {SIGTERM, SIGCONT}) containment_.Signal(r.engine, r.index, r.pid, sig);
      RemoveInstanceRecord(options_.run_dir, r.engine, r.index);
      orphans_stopping_.push_back(
          {r.engine, r.index, r.pid, r.start_time, clock_->MonotonicNow() + kOrphanGrace});
      Emit(id, "orphan_stopped",
           absl::StrCat("pid ", r.pid,
                        " survived fleetd but is not in the config any more: "
                        "sent SIGTERM to its group (SIGKILL in ",
                        absl::FormatDuration(kOrphanGrace), " if it is still there)"));
      continue;
    }
    Adopt(inst, r);
  }
  EndUnownedRuns();
}

void Supervisor::Adopt(Instance* inst, const InstanceRecord& r) {
  const v1::Engine& spec = *inst->engine->spec;
  int pidfd = os::PidfdOpen(r.pid);
  // Checked again through the pidfd's lifetime: the pid cannot be reused
  // while we hold it, so this start time is this process's.
  std::optional<uint64_t> start = os::ProcessStartTime(r.pid);
  if (pidfd < 0 || !start.has_value() || *start != r.start_time) {
    if (pidfd >= 0) ::close(pidfd);
    RemoveInstanceRecord(options_.run_dir, r.engine, r.index);
    Emit(inst->id, "lost", absl::StrCat("pid ", r.pid, " ended as fleetd took it back"));
    return;
  }
  inst->pid = r.pid;
  inst->pidfd = pidfd;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = reinterpret_cast<uint64_t>(inst) | 1;  // Low bit: a pidfd, not a pipe.
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, pidfd, &ev);
  // Its output, from where the last fleetd stopped reading. (A survivor
  // of a fleetd older than the stderr FIFO writes both streams to the first.)
  bool captured = false;
  for (OutputPipe* pipe : {&inst->out, &inst->err}) captured = capture_.Reopen(pipe) || captured;
  by_pid_[r.pid] = inst;
  inst->started_wall = absl::FromUnixMillis(r.spawned_unix_ms);
  inst->stop_signal = os::SignalFromName(spec.stop().signal()).value_or(SIGTERM);
  const absl::Duration up = std::max(absl::ZeroDuration(), clock_->WallNow() - inst->started_wall);
  inst->life.Adopted(now_, up);
  if (r.from_temporary_file) RecordInstance(inst);
  Emit(inst->id, "adopted",
       absl::StrCat("pid ", r.pid, ", up ", absl::FormatDuration(absl::Trunc(up, absl::Seconds(1))),
                    ", taken back after a fleetd restart",
                    captured ? "" : " (its output FIFOs are gone: output is not captured)"));
  capture_.Marker(inst, absl::StrCat("taken back by a restarted fleetd: pid ", r.pid));
  for (const auto& m : modules_) m->OnAdopted(ViewOf(*inst), up);
  if (r.spec_hash != SpecHash(spec) && !inst->engine->scheduled) {
    Perform(inst, inst->life.Restart(now_, "its definition changed while fleetd was down"));
  }
}

void Supervisor::KillStubbornOrphans() {
  for (auto it = orphans_stopping_.begin(); it != orphans_stopping_.end();) {
    if (it->kill_at > now_) {
      ++it;
      continue;
    }
    std::optional<uint64_t> start = os::ProcessStartTime(it->pid);
    if (start.has_value() && *start == it->start_time) {
      containment_.Signal(it->engine, it->index, it->pid, SIGKILL);
      Emit(absl::StrCat(it->engine, "/", it->index), "killed",
           absl::StrCat("pid ", it->pid, " ignored SIGTERM for ",
                        absl::FormatDuration(kOrphanGrace), ": SIGKILL"));
    }
    it = orphans_stopping_.erase(it);
  }
}

void Supervisor::RecordInstance(Instance* inst) {
  const v1::Engine& spec = *inst->engine->spec;
  absl::Status recorded = WriteInstanceRecord(
      options_.run_dir,
      {spec.name(), inst->index, inst->pid, os::ProcessStartTime(inst->pid).value_or(0),
       SpecHash(spec), absl::ToUnixMillis(inst->started_wall)});
  inst->record_pending = !recorded.ok();
  if (recorded.ok()) return;
  if (!records_retry_due_.has_value()) records_retry_due_ = now_ + kRecordRetryEvery;
  if (!records_failing_) {
    records_failing_ = true;
    // Without the record a fleetd restart would not know this pid and
    // could start a second copy beside it: worth the operator's attention.
    Emit(inst->id, "record_failed",
         absl::StrCat("cannot record pid ", inst->pid, " for a fleetd restart to take it back: ",
                      recorded.message(), "; retrying every second"));
  }
}

void Supervisor::RetryInstanceRecords() {
  if (!records_retry_due_.has_value() || *records_retry_due_ > now_) return;
  records_retry_due_.reset();
  int pending = 0;
  for (auto& [name, engine] : engines_) {
    for (auto& inst : engine->instances) {
      if (!inst->record_pending || inst->pid <= 0) continue;
      RecordInstance(inst.get());
      pending += inst->record_pending;
    }
  }
  if (pending == 0 && records_failing_) {
    records_failing_ = false;
    Emit("fleetd", "records_resumed", "every running instance's pid is recorded again");
  }
}

void Supervisor::HandlePidfd(Instance* inst) {
  if (inst->pidfd < 0) return;  // Stale event.
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, inst->pidfd, nullptr);
  ::close(inst->pidfd);
  inst->pidfd = -1;
  by_pid_.erase(inst->pid);
  os::ExitStatus status;
  status.unknown = true;
  OnExit(inst, status);
  dirty_ = true;  // An exit changes what must run, as a reaped child does.
}

void Supervisor::EndUnownedRuns() {
  // What this fleetd took back: ENGINE.N -> the pid that stays. A survivor
  // of a removed engine that is being stopped gracefully stays too.
  std::map<std::string, pid_t> keep;
  std::map<std::string, Instance*> instances;
  for (auto& [name, engine] : engines_) {
    for (auto& inst : engine->instances) {
      const std::string group = absl::StrCat(name, ".", inst->index);
      instances[group] = inst.get();
      if (inst->pid > 0) keep[group] = inst->pid;
    }
  }
  for (const StoppingOrphan& o : orphans_stopping_) keep[absl::StrCat(o.engine, ".", o.index)] = o.pid;
  for (auto& [group, killed] : containment_.EndUnowned(keep)) {
    auto it = instances.find(group);
    if (it == instances.end()) continue;
    // It must not start again until these are gone (EarlierCopyGone).
    for (const Containment::Killed& k : killed.processes) it->second->dying.push_back(k);
    for (std::string& dir : killed.cgroups) it->second->dying_cgroups.push_back(std::move(dir));
  }
}

bool Supervisor::EarlierCopyGone(Instance* inst) {
  auto& dying = inst->dying;
  dying.erase(std::remove_if(dying.begin(), dying.end(),
                             [](const Containment::Killed& p) {
                               return !os::ProcessLives(p.pid, p.start_time);
                             }),
              dying.end());
  auto& groups = inst->dying_cgroups;
  groups.erase(std::remove_if(groups.begin(), groups.end(),
                              [](const std::string& dir) { return os::CgroupPids(dir).empty(); }),
               groups.end());
  if (dying.empty() && groups.empty()) {
    inst->dying_check_due.reset();
    return true;
  }
  // A killed process is gone within milliseconds unless it sleeps
  // uninterruptibly (a hung NFS read); it is looked at again shortly.
  inst->life.Wait(dying.empty() ? absl::StrCat("an earlier copy (in ", groups.front(),
                                               ") was killed and has not ended yet")
                                : absl::StrCat("an earlier copy (pid ", dying.front().pid,
                                               ") was killed and has not ended yet"));
  inst->dying_check_due = now_ + kDyingCheckEvery;
  return false;
}

}  // namespace fleet::supervisor
