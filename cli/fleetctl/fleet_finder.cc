#include "cli/fleetctl/fleet_finder.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/defaults/defaults.h"
#include "core/os/files.h"
#include "core/os/process.h"

namespace fleet::cli {
namespace {

constexpr size_t kMaxAnswer = 64 * 1024;

std::string Env(const char* name) {
  const char* value = getenv(name);
  return value == nullptr ? "" : value;
}

// The run dir `fleetd run-dir config` prints, or (in *note) why none.
std::string RunDirOf(const std::string& config, const std::string& fleetd, std::string* note) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    *note = "cannot make a pipe";
    return "";
  }
  os::SpawnSpec spec;
  spec.argv = {fleetd, "run-dir", config};
  spec.env = os::CurrentEnvironment();
  spec.output_fd = out[1];  // stderr too: its first line is the reason.
  absl::StatusOr<pid_t> pid = os::Spawn(spec);
  ::close(out[1]);
  if (!pid.ok()) {
    ::close(out[0]);
    *note = absl::StrCat("cannot run ", fleetd, " to read it: ", pid.status().message());
    return "";
  }
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(out[0], buffer, sizeof(buffer))) > 0 && text.size() < kMaxAnswer) {
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(out[0]);
  const os::ExitStatus status = os::WaitProcess(*pid);
  std::string first = text.substr(0, text.find('\n'));
  if (!status.Success()) {
    *note = first.empty() ? status.Describe() : first;
    return "";
  }
  absl::StripAsciiWhitespace(&first);
  return first;
}

bool HasSocket(const std::string& run_dir) {
  struct stat st;
  return !run_dir.empty() && ::stat(defaults::SocketPath(run_dir).c_str(), &st) == 0 &&
         S_ISSOCK(st.st_mode);
}

}  // namespace

std::vector<FleetPlace> FleetPlaces(const std::string& run_dir_flag, const std::string& config_flag,
                                    const std::string& fleetd_path) {
  if (!run_dir_flag.empty()) return {{os::AbsolutePath(run_dir_flag), "--run-dir", ""}};
  std::vector<FleetPlace> places;
  auto from_config = [&](const std::string& config, const std::string& from) {
    FleetPlace place{"", from, ""};
    place.run_dir = RunDirOf(config, fleetd_path, &place.note);
    places.push_back(place);
  };
  if (!config_flag.empty()) {  // Named by the operator: the only place.
    from_config(config_flag, absl::StrCat("-c ", config_flag));
    return places;
  }
  if (os::Exists("fleet.yaml")) {
    from_config("fleet.yaml", "./fleet.yaml");
  }
  if (const std::string env = Env("FLEET_RUN_DIR"); !env.empty()) {
    places.push_back({os::AbsolutePath(env), "$FLEET_RUN_DIR", ""});
  }
  const std::string home = Env("HOME");
  const std::string under_home = std::string(defaults::kRunDir).substr(1);  // "/.fleet/run"
  places.push_back(
      {(home.empty() ? std::string("/tmp") : home) + under_home, defaults::kRunDir, ""});
  return places;
}

std::string ChooseRunDir(const std::vector<FleetPlace>& places) {
  for (const FleetPlace& p : places) {
    if (HasSocket(p.run_dir)) return p.run_dir;
  }
  for (const FleetPlace& p : places) {
    if (!p.run_dir.empty()) return p.run_dir;
  }
  return "";
}

std::string DescribePlaces(const std::vector<FleetPlace>& places) {
  std::vector<std::string> parts;
  for (const FleetPlace& p : places) {
    parts.push_back(p.run_dir.empty() ? absl::StrCat(p.from, " (", p.note, ")")
                                      : absl::StrCat(p.run_dir, " (from ", p.from, ")"));
  }
  return absl::StrJoin(parts, ", ");
}

}  // namespace fleet::cli
