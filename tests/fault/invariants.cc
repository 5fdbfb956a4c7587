#include "tests/fault/invariants.h"

#include <dirent.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/integration/git_remote.h"

namespace fleet::testing {
namespace {

namespace ctl = ::fleet::control::v1;
namespace fs = std::filesystem;

// Fields of /proc/PID/stat after the command name: [0] state, [1] ppid, [2] pgrp.
std::vector<std::string> StatFields(pid_t pid) {
  std::string stat = FleetHarness::FileText(absl::StrCat("/proc/", pid, "/stat"));
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 > stat.size()) return {};
  return absl::StrSplit(stat.substr(paren + 2), ' ');
}

struct FleetProcess {
  pid_t pid;
  std::string instance;  // "ENGINE/N"
};

// "ENGINE/N" from a process's FLEET_* environment if it is of the fleet in
// run_dir; "" otherwise.
std::string InstanceOf(pid_t pid, const std::string& run_dir) {
  std::string engine, index, dir;
  for (absl::string_view kv :
       absl::StrSplit(FleetHarness::FileText(absl::StrCat("/proc/", pid, "/environ")), '\0')) {
    if (absl::ConsumePrefix(&kv, "FLEET_ENGINE=")) engine = std::string(kv);
    if (absl::ConsumePrefix(&kv, "FLEET_INSTANCE=")) index = std::string(kv);
    if (absl::ConsumePrefix(&kv, "FLEET_RUN_DIR=")) dir = std::string(kv);
  }
  return dir == run_dir && !engine.empty() ? absl::StrCat(engine, "/", index) : "";
}

// Live copies of the fleet's instances: group leaders carrying run_dir's
// FLEET_* environment whose parent is not of the same instance (a daemon
// the instance started with setsid leads a group too, but is its helper).
std::vector<FleetProcess> FleetLeaders(const std::string& run_dir) {
  std::vector<FleetProcess> out;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return out;
  while (dirent* e = readdir(proc)) {
    pid_t pid = 0, ppid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    std::vector<std::string> f = StatFields(pid);
    if (f.size() < 3 || f[0] == "Z" || f[2] != std::to_string(pid) ||
        !absl::SimpleAtoi(f[1], &ppid)) {
      continue;
    }
    std::string instance = InstanceOf(pid, run_dir);
    if (!instance.empty() && InstanceOf(ppid, run_dir) != instance) {
      out.push_back({pid, instance});
    }
  }
  closedir(proc);
  return out;
}

bool Alive(pid_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

}  // namespace

std::vector<pid_t> CopiesOf(const std::string& run_dir, const std::string& engine, int index) {
  std::vector<pid_t> out;
  const std::string id = absl::StrCat(engine, "/", index);
  for (const FleetProcess& p : FleetLeaders(run_dir)) {
    if (p.instance == id) out.push_back(p.pid);
  }
  return out;
}

std::vector<std::string> FleetViolations(const FleetHarness& h,
                                         const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  absl::StatusOr<ctl::GetStatusResponse> status = h.Status();
  if (!status.ok()) return {absl::StrCat("fleetctl status: ", status.status().message())};
  std::map<std::string, ctl::InstanceStatus> by_id;
  for (const ctl::EngineStatus& e : status->engines()) {
    for (const ctl::InstanceStatus& i : e.instances()) by_id[i.id()] = i;
  }
  std::map<std::string, std::vector<pid_t>> copies;
  for (const FleetProcess& p : FleetLeaders(h.run_dir())) copies[p.instance].push_back(p.pid);
  const std::set<std::string> wanted(ids.begin(), ids.end());
  for (const std::string& id : ids) {
    auto it = by_id.find(id);
    if (it == by_id.end()) {
      out.push_back(id + ": not in status");
      continue;
    }
    if (it->second.state() != ctl::INSTANCE_STATE_RUNNING) {
      out.push_back(absl::StrCat(id, ": ", ctl::InstanceState_Name(it->second.state()), " (",
                                 it->second.reason(), ")"));
    }
    const std::vector<pid_t>& live = copies[id];
    if (live.size() != 1 || live[0] != static_cast<pid_t>(it->second.pid())) {
      out.push_back(absl::StrCat(id, ": live copies [", absl::StrJoin(live, " "),
                                 "], status says pid ", it->second.pid()));
    }
  }
  for (const auto& [id, pids] : copies) {
    if (!wanted.count(id)) {
      out.push_back(
          absl::StrCat(id, ": runs (pids ", absl::StrJoin(pids, " "), ") but should not"));
    }
  }
  std::error_code ec;
  for (const auto& lock : fs::directory_iterator(h.run_dir() + "/locks", ec)) {
    pid_t owner = 0;
    std::string text = FleetHarness::FileText(lock.path().string() + "/owner");
    std::vector<std::string> words = absl::StrSplit(text, ' ');
    if (words.empty() || !absl::SimpleAtoi(words[0], &owner) || !Alive(owner)) {
      out.push_back(absl::StrCat("stale lock ", lock.path().string(), " (owner '", text, "')"));
    }
  }
  for (const std::string& lock : LockFiles(h.run_dir() + "/state")) {
    out.push_back("Git lock file left: " + lock);
  }
  DIR* proc = opendir("/proc");
  while (proc != nullptr) {
    dirent* e = readdir(proc);
    if (e == nullptr) break;
    pid_t pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    std::vector<std::string> f = StatFields(pid);
    if (f.size() > 1 && f[0] == "Z" && f[1] == std::to_string(h.fleetd_pid())) {
      out.push_back(absl::StrCat("zombie child of fleetd: ", pid));
    }
  }
  if (proc != nullptr) closedir(proc);
  return out;
}

std::vector<std::string> BadJsonFiles(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().filename() == ".git") {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || it->path().extension() != ".json") continue;
    const std::string text = FleetHarness::FileText(it->path());
    google::protobuf::Value value;
    if (text.empty()) {
      out.push_back(it->path().string() + ": empty");
    } else if (auto s = google::protobuf::util::JsonStringToMessage(text, &value); !s.ok()) {
      out.push_back(absl::StrCat(it->path().string(), ": ", s.ToString()));
    }
  }
  return out;
}

std::vector<std::string> AwaitHealed(const FleetHarness& h, const std::vector<std::string>& ids,
                                     absl::Duration timeout) {
  std::vector<std::string> last;
  FleetHarness::WaitUntil(
      [&] {
        last = FleetViolations(h, ids);
        return last.empty();
      },
      timeout);
  return last;
}

std::vector<std::string> Ids(const std::string& engine, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(absl::StrCat(engine, "/", i));
  return out;
}

bool StraceWorks() {
  return system("strace -o /dev/null -e trace=none true >/dev/null 2>&1") == 0;
}

}  // namespace fleet::testing
