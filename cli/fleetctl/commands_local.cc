// fleetctl: `validate` and `init`: work on files, no daemon needed.
#include "cli/fleetctl/commands.h"
#include "cli/fleetctl/commands_internal.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/fleetctl/client.h"
#include "cli/fleetctl/fleet_finder.h"
#include "cli/fleetctl/json_out.h"
#include "cli/fleetctl/render.h"
#include "cli/fleetctl/starter_config.h"
#include "cli/fleetctl/terminal.h"
#include "core/defaults/defaults.h"
#include "core/fileproto/mkdir_lock.h"
#include "core/os/files.h"
#include "core/os/process.h"
#include "grpcpp/grpcpp.h"

namespace fleet::cli {

namespace ctl = ::fleet::control::v1;

int Commands::Validate(const std::string& path) {
  // fleetctl links no YAML parser: the daemon binary beside it checks.
  os::SpawnSpec spec;
  spec.argv = {FleetdPath(), "validate", path};
  spec.env = os::CurrentEnvironment();
  spec.inherit_stdio = true;
  absl::StatusOr<pid_t> pid = os::Spawn(spec);
  if (!pid.ok()) return Fail(kFailed, std::string(pid.status().message()));
  os::ExitStatus status = os::WaitProcess(*pid);
  if (status.Success()) return kOk;
  return status.signaled ? kFailed : (status.code == 78 ? kUsage : status.code);
}

int Commands::Init(const std::string& path) {
  FILE* f = fopen(path.c_str(), "wx");  // x: never overwrite what the operator wrote.
  if (f == nullptr) {
    return Fail(kFailed, absl::StrCat("will not write ", path, ": ",
                                      errno == EEXIST ? "it exists" : strerror(errno)));
  }
  fputs(kStarterConfig, f);
  if (fclose(f) != 0) return Fail(kFailed, absl::StrCat("write ", path, ": ", strerror(errno)));
  printf("wrote %s; check it with `fleetctl validate %s`, run it with `fleetd -c %s`\n",
         path.c_str(), path.c_str(), path.c_str());
  return kOk;
}

}  // namespace fleet::cli
