#include "core/supervisor/operator_verbs.h"

#include "absl/strings/str_cat.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {

const char* VerbName(Verb verb) {
  switch (verb) {
    case Verb::kStart:
      return "start";
    case Verb::kStop:
      return "stop";
    case Verb::kRestart:
      return "restart";
  }
  return "?";
}

std::string ApplyVerb(Verb verb, Instance* inst, os::MonoTime now,
                      const std::function<void(Instance*, Action)>& perform) {
  const State s = inst->life.state();
  switch (verb) {
    case Verb::kStart:
      inst->want_run = true;
      if (inst->life.HasProcess()) return absl::StrCat(inst->id, ": already ", StateName(s));
      inst->life.Reset("start requested");
      return absl::StrCat(inst->id, ": starting");
    case Verb::kStop:
      inst->want_run = false;
      if (!inst->life.HasProcess() && !inst->life.Pending()) {
        return absl::StrCat(inst->id, ": already ", StateName(s));
      }
      perform(inst, inst->life.Stop(now, "stopped by the operator"));
      return absl::StrCat(inst->id, ": stopping");
    case Verb::kRestart:
      inst->want_run = true;
      if (inst->life.HasProcess()) {
        perform(inst, inst->life.Restart(now, "restart requested", RestartCause::kOperator));
      } else {
        inst->life.Reset("restart requested");
      }
      return absl::StrCat(inst->id, ": restarting");
  }
  return "";
}

}  // namespace fleet::supervisor
