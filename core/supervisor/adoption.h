// fleetd's own death: every running instance has a record (pid, start time,
// definition hash) and an output FIFO that outlive fleetd. A new fleetd takes
// back each instance whose recorded process still runs (same pid AND start
// time, so a reused pid is never taken for a worker), watches it through a
// pidfd (it is not our child), reads its output from the FIFO again, and
// restarts it only if its definition changed meanwhile. Instances that died
// meanwhile are started as usual; survivors the config no longer has are
// stopped. Nothing runs twice. Loop thread only.
#ifndef FLEET_CORE_SUPERVISOR_ADOPTION_H_
#define FLEET_CORE_SUPERVISOR_ADOPTION_H_

#include <functional>
#include <string>

#include "core/supervisor/core_parts.h"
#include "core/supervisor/instance_records.h"

namespace fleet::supervisor {

class Adoption {
 public:
  // on_gone: an adopted process is gone (its pidfd said so).
  Adoption(const CoreParts& parts, std::function<void(Instance*)> on_gone);

  // inst's run, recorded for a fleetd that comes back (retried every second
  // while it cannot be written).
  void Record(const Instance& inst);
  // The run of inst ended: its record goes.
  void Forget(const Instance& inst);
  std::optional<MonoTime> retry_due() const { return records_.retry_due(); }
  void RetryRecords() { records_.Retry(p_.state->now); }

  // Once, at the first config, before anything is spawned: takes back each
  // survivor the table has, stops those it does not, and ends every
  // process of this fleet that no record accounts for.
  void TakeBackSurvivors();

  // No copy killed as fleetd came back is alive any more; else inst WAITs,
  // and is looked at again shortly (inst->dying_check_due).
  bool EarlierCopyGone(Instance* inst);

 private:
  void Adopt(Instance* inst, const InstanceRecord& record);
  void Emit(const std::string& subject, const std::string& kind, const std::string& message) {
    p_.events->Add(subject, kind, message);
  }

  CoreParts p_;
  std::function<void(Instance*)> on_gone_;
  RecordKeeper records_;
  bool done_ = false;
};

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_ADOPTION_H_
