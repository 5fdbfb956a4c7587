// fleetctl: `validate` and `init`: work on files, no daemon needed.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
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

int ProbeFiles(const std::vector<std::string>& files, const std::vector<std::string>& max_ages) {
  if (files.empty() || files.size() != max_ages.size()) {
    return Fail(kUsage, "probe: give each --file a --max-age (--file PATH --max-age 30s ...)");
  }
  const absl::Time now = absl::Now();
  auto age_text = [](absl::Duration d, absl::Duration unit) {
    d = absl::Trunc(d, unit);
    return d == absl::ZeroDuration() ? std::string("0s") : absl::FormatDuration(d);
  };
  std::vector<std::string> fresh;
  for (size_t i = 0; i < files.size(); ++i) {
    absl::Duration max_age;
    if (!absl::ParseDuration(max_ages[i], &max_age)) {
      return Fail(kUsage, absl::StrCat("probe: '", max_ages[i], "' is not a duration such as 30s"));
    }
    struct stat st;
    if (::stat(files[i].c_str(), &st) != 0) {
      printf("unhealthy: %s: %s (not written yet?)\n", files[i].c_str(), strerror(errno));
      return kFailed;
    }
    const absl::Duration age = now - absl::TimeFromTimespec(st.st_mtim);
    if (age > max_age) {
      printf("unhealthy: %s was last written %s ago (more than %s)\n", files[i].c_str(),
             age_text(age, absl::Seconds(1)).c_str(), age_text(max_age, absl::Seconds(1)).c_str());
      return kFailed;
    }
    fresh.push_back(absl::StrCat(files[i], " ", age_text(age, absl::Milliseconds(100)), " old"));
  }
  printf("ok: %s\n", absl::StrJoin(fresh, ", ").c_str());
  return kOk;
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
