// What an operator's start, stop or restart means for one instance.
#ifndef FLEET_CORE_SUPERVISOR_OPERATOR_VERBS_H_
#define FLEET_CORE_SUPERVISOR_OPERATOR_VERBS_H_

#include <functional>
#include <string>

#include "core/os/clock.h"
#include "core/supervisor/lifecycle.h"

namespace fleet::supervisor {

struct Instance;

enum class Verb { kStart, kStop, kRestart };

const char* VerbName(Verb verb);

// Records what is wanted of inst and drives its lifecycle there (perform
// carries out the answer). Returns the line for the operator
// ("worker/0: stopping", "worker/1: already STOPPED").
std::string ApplyVerb(Verb verb, Instance* inst, os::MonoTime now,
                      const std::function<void(Instance*, Action)>& perform);

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_OPERATOR_VERBS_H_
