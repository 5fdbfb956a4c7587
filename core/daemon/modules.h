// The supervisor's feature modules (core/module/module.h), registered in
// one place: removing a module is deleting its folder and its line here.
#ifndef FLEET_CORE_DAEMON_MODULES_H_
#define FLEET_CORE_DAEMON_MODULES_H_

#include "core/supervisor/supervisor.h"

namespace fleet::daemon {

void RegisterModules(supervisor::Supervisor* supervisor);

}  // namespace fleet::daemon

#endif  // FLEET_CORE_DAEMON_MODULES_H_
