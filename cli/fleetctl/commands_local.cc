// fleetctl: `validate` and `init`: work on files, no daemon needed.
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "cli/fleetctl/commands.h"
#include "cli/fleetctl/commands_internal.h"
#include "cli/fleetctl/fleet_finder.h"
#include "cli/fleetctl/starter_config.h"
#include "core/os/process.h"

namespace fleet::cli {

namespace {

// fleetctl links no YAML parser: the daemon binary beside it reads the
// fleet file, with fleetctl's stdio. Its exit code is fleetctl's.
int RunFleetd(std::vector<std::string> argv) {
  os::SpawnSpec spec;
  argv.insert(argv.begin(), FleetdPath());
  spec.argv = std::move(argv);
  spec.env = os::CurrentEnvironment();
  spec.inherit_stdio = true;
  absl::StatusOr<pid_t> pid = os::Spawn(spec);
  if (!pid.ok()) return Fail(kFailed, std::string(pid.status().message()));
  os::ExitStatus status = os::WaitProcess(*pid);
  if (status.Success()) return kOk;
  return status.signaled ? kFailed : (status.code == 78 ? kUsage : status.code);
}

}  // namespace

int ValidateFleetFile(const std::string& path) { return RunFleetd({"validate", path}); }

int ExportFleet(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"export"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunFleetd(std::move(argv));
}

int InitFleetFile(const std::string& path) {
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
