#include "core/daemon/modules.h"

#include <memory>

#include "core/modules/log_hygiene/log_hygiene.h"

namespace fleet::daemon {

void RegisterModules(supervisor::Supervisor* supervisor) {
  supervisor->AddModule(std::make_unique<modules::LogHygiene>(supervisor));
}

}  // namespace fleet::daemon
