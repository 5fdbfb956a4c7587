#include "core/supervisor/adoption.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "core/log/log.h"
#include "core/os/cgroup.h"
#include "core/os/files.h"
#include "core/os/process.h"
#include "core/supervisor/instance_records.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {

namespace v1 = ::fleet::config::v1;

namespace {
// A killed earlier copy is looked at again this often until it is gone.
constexpr absl::Duration kDyingCheckEvery = absl::Milliseconds(10);
}  // namespace

Adoption::Adoption(const CoreParts& parts, std::function<void(Instance*)> on_gone)
    : p_(parts),
      on_gone_(std::move(on_gone)),
      records_(p_.run_dir, [this](const std::string& subject, const std::string& kind,
                                  const std::string& message) { Emit(subject, kind, message); }) {}

void Adoption::Record(const Instance& inst) {
  const v1::Engine& spec = *inst.engine->spec;
  records_.Record(inst.id,
                  {spec.name(), inst.index, inst.pid, os::ProcessStartTime(inst.pid).value_or(0),
                   SpecHash(spec), absl::ToUnixMillis(inst.started_wall)},
                  p_.state->now);
}

void Adoption::Forget(const Instance& inst) {
  records_.Remove(inst.id, inst.engine->spec->name(), inst.index);
}

void Adoption::TakeBackSurvivors() {
  if (done_) return;
  done_ = true;
  std::vector<std::string> errors;
  std::vector<InstanceRecord> records = ReadInstanceRecords(p_.run_dir, &errors);
  for (const std::string& e : errors) Emit("fleetd", "record_invalid", e);
  for (const InstanceRecord& r : records) {
    const std::string id = absl::StrCat(r.engine, "/", r.index);
    std::optional<uint64_t> start = os::ProcessStartTime(r.pid);
    if (!start.has_value() || *start != r.start_time) {
      RemoveInstanceRecord(p_.run_dir, r.engine, r.index);
      Emit(id, "lost",
           absl::StrCat("pid ", r.pid, " ended while fleetd was down",
                        start.has_value() ? " (the pid now belongs to another process)" : "",
                        "; it is started again"));
      continue;
    }
    Instance* inst = p_.table->At(r.engine, r.index);
    if (inst == nullptr || inst->retire) {
      // Ran under an older config: nothing wants it now.
      RemoveInstanceRecord(p_.run_dir, r.engine, r.index);
      p_.containment->StopOrphan(r.engine, r.index, r.pid, r.start_time, p_.clock->MonotonicNow());
      Emit(id, "orphan_stopped",
           absl::StrCat("pid ", r.pid,
                        " survived fleetd but is not in the config any more: "
                        "sent SIGTERM to its group (SIGKILL in ",
                        absl::FormatDuration(Containment::kOrphanGrace), " if it is still there)"));
      continue;
    }
    Adopt(inst, r);
  }
  // Every process of this fleet that no adopted record accounts for goes:
  // what a run that ended while fleetd was down left (setsid grandchildren),
  // and a run fleetd spawned but died before recording. An instance does
  // not start again until its killed copies are gone (EarlierCopyGone).
  std::map<std::string, pid_t> keep;  // ENGINE.N -> the pid that stays.
  std::map<std::string, Instance*> by_group;
  p_.table->ForEach([&](Instance* inst) {
    const std::string group = absl::StrCat(inst->engine->spec->name(), ".", inst->index);
    by_group[group] = inst;
    if (inst->pid > 0) keep[group] = inst->pid;
  });
  for (auto& [group, killed] : p_.containment->EndUnowned(std::move(keep))) {
    auto it = by_group.find(group);
    if (it == by_group.end()) continue;
    Instance* inst = it->second;
    for (Containment::Killed& k : killed.processes) inst->dying.processes.push_back(k);
    for (std::string& dir : killed.cgroups) inst->dying.cgroups.push_back(std::move(dir));
  }
}

void Adoption::Adopt(Instance* inst, const InstanceRecord& r) {
  const v1::Engine& spec = *inst->engine->spec;
  int pidfd = os::PidfdOpen(r.pid);
  // Checked again through the pidfd's lifetime: the pid cannot be reused
  // while we hold it, so this start time is this process's.
  std::optional<uint64_t> start = os::ProcessStartTime(r.pid);
  if (pidfd < 0 || !start.has_value() || *start != r.start_time) {
    if (pidfd >= 0) ::close(pidfd);
    RemoveInstanceRecord(p_.run_dir, r.engine, r.index);
    Emit(inst->id, "lost", absl::StrCat("pid ", r.pid, " ended as fleetd took it back"));
    return;
  }
  inst->pid = r.pid;
  inst->pidfd = pidfd;
  if (absl::Status watched = p_.loop->Watch(pidfd, [this, inst] { on_gone_(inst); });
      !watched.ok()) {
    log::Error(absl::StrCat(inst->id, ": cannot watch pid ", r.pid, ": ", watched.message()));
  }
  // Its output, from where the last fleetd stopped reading. (A survivor
  // of a fleetd older than the stderr FIFO writes both streams to the first.)
  bool captured = false;
  for (OutputPipe* pipe : {&inst->out, &inst->err}) captured = p_.capture->Reopen(pipe) || captured;
  p_.table->AddPid(r.pid, inst);
  inst->started_wall = absl::FromUnixMillis(r.spawned_unix_ms);
  inst->stop_signal = os::SignalFromName(spec.stop().signal()).value_or(SIGTERM);
  const absl::Duration up =
      std::max(absl::ZeroDuration(), p_.clock->WallNow() - inst->started_wall);
  inst->life.Adopted(p_.state->now, up);
  if (r.from_temporary_file) Record(*inst);
  Emit(inst->id, "adopted",
       absl::StrCat("pid ", r.pid, ", up ", absl::FormatDuration(absl::Trunc(up, absl::Seconds(1))),
                    ", taken back after a fleetd restart",
                    captured ? "" : " (its output FIFOs are gone: output is not captured)"));
  p_.capture->Marker(inst, absl::StrCat("taken back by a restarted fleetd: pid ", r.pid));
  for (const auto& m : *p_.modules) m->OnAdopted(ViewOf(*inst), up);
  if (r.spec_hash != SpecHash(spec) && !inst->engine->scheduled) {
    p_.perform(inst,
               inst->life.Restart(p_.state->now, "its definition changed while fleetd was down",
                                  RestartCause::kConfig));
  }
}

bool Adoption::EarlierCopyGone(Instance* inst) {
  if (Containment::Ended(&inst->dying)) {
    inst->dying_check_due.reset();
    p_.table->Requeue(inst);
    return true;
  }
  // A killed process is gone within milliseconds unless it sleeps
  // uninterruptibly (a hung NFS read); it is looked at again shortly.
  inst->life.Wait(inst->dying.processes.empty()
                      ? absl::StrCat("an earlier copy (in ", inst->dying.cgroups.front(),
                                     ") was killed and has not ended yet")
                      : absl::StrCat("an earlier copy (pid ", inst->dying.processes.front().pid,
                                     ") was killed and has not ended yet"));
  inst->dying_check_due = p_.state->now + kDyingCheckEvery;
  p_.table->Requeue(inst);
  return false;
}

}  // namespace fleet::supervisor
