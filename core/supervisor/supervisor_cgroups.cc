// Nothing an instance started outlives it. Where cgroup v2 is writable, each
// instance is born in its own cgroup (RUN: <fleetd's cgroup>/fleet.<key>/
// ENGINE.N): stop signals reach every member, and when the instance ends,
// cgroup.kill ends whatever it left, even a daemon that called setsid() and
// double-forked. Elsewhere the process group does that work, and fleetd, as
// child subreaper, inherits what escaped it once its parent dies: such an
// orphan that carries an instance's environment and is older than that
// instance's current process (or whose instance is not running) is killed.
// Loop thread only.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/log/log.h"
#include "core/os/cgroup.h"
#include "core/os/files.h"
#include "core/os/process.h"
#include "core/supervisor/instance_records.h"
#include "core/supervisor/supervisor.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {
namespace {

constexpr absl::Duration kOrphanSweepDelay = absl::Milliseconds(200);
constexpr absl::Duration kDyingCheckEvery = absl::Milliseconds(10);

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// ppid and pgid from /proc/PID/stat; false if it is gone.
bool ParentAndGroup(pid_t pid, pid_t* ppid, pid_t* pgid) {
  std::string stat = Slurp(absl::StrCat("/proc/", pid, "/stat"));
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return false;
  std::vector<absl::string_view> f =
      absl::StrSplit(absl::string_view(stat).substr(paren + 1), ' ', absl::SkipEmpty());
  return f.size() > 3 && f[0] != "Z" && absl::SimpleAtoi(f[1], ppid) &&
         absl::SimpleAtoi(f[2], pgid);
}

// Which instance of which fleet a process belongs to, from the FLEET_*
// variables fleetd put in its environment (children inherit them).
struct FleetIdentity {
  std::string run_dir;
  std::string engine;
  uint32_t index = 0;
};

std::optional<FleetIdentity> IdentityOf(pid_t pid) {
  FleetIdentity id;
  std::string index;
  for (absl::string_view kv :
       absl::StrSplit(Slurp(absl::StrCat("/proc/", pid, "/environ")), '\0', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&kv, "FLEET_ENGINE=")) id.engine = std::string(kv);
    if (absl::ConsumePrefix(&kv, "FLEET_INSTANCE=")) index = std::string(kv);
    if (absl::ConsumePrefix(&kv, "FLEET_RUN_DIR=")) id.run_dir = std::string(kv);
  }
  if (id.run_dir.empty() || !absl::SimpleAtoi(index, &id.index)) return std::nullopt;
  return id;
}

}  // namespace

void Supervisor::InitCgroups() {
  if (!options_.use_cgroups) {
    log::Info("cgroups: off (FLEET_CGROUPS=off); instances are tracked by process group");
    return;
  }
  absl::StatusOr<std::string> root =
      os::PrepareCgroupRoot(absl::StrCat("run-", absl::Hex(StableHash(options_.run_dir))));
  if (!root.ok()) {
    log::Info(absl::StrCat("cgroups: not used (", root.status().message(),
                           "); instances are tracked by process group, escaped "
                           "orphans are caught as child subreaper"));
    return;
  }
  cgroup_root_ = *root;
  log::Info(absl::StrCat("cgroups: each instance runs in its own cgroup under ", cgroup_root_));
}

std::string Supervisor::CgroupDir(const std::string& engine, uint32_t index) const {
  if (cgroup_root_.empty()) return "";
  return absl::StrCat(cgroup_root_, "/", engine, ".", index);
}

void Supervisor::SignalInstance(const Instance& inst, int sig) {
  if (inst.pid > 0) os::SignalGroup(inst.pid, sig);
  const std::string dir = CgroupDir(inst.engine->spec->name(), inst.index);
  if (!dir.empty()) os::SignalCgroup(dir, sig);
}

void Supervisor::EndLeftovers(const Instance& inst, pid_t old_pid) {
  os::SignalGroup(old_pid, SIGKILL);
  const std::string dir = CgroupDir(inst.engine->spec->name(), inst.index);
  if (dir.empty()) {
    if (!orphan_sweep_due_.has_value()) orphan_sweep_due_ = now_ + kOrphanSweepDelay;
    return;
  }
  int left = os::SignalCgroup(dir, SIGKILL);
  if (left > 0) {
    Emit(inst.id, "leftovers_killed",
         absl::StrCat(left, left == 1 ? " process" : " processes",
                      " it started outlived it (in its cgroup): killed"));
  }
}

void Supervisor::EndUnownedRuns() {
  // What this fleetd took back: ENGINE.N -> the pid that stays. A survivor
  // of a removed engine that is being stopped gracefully stays too.
  std::map<std::string, pid_t> keep;
  std::map<std::string, Instance*> instances;
  for (auto& [name, engine] : engines_) {
    for (auto& inst : engine->instances) {
      const std::string group = absl::StrCat(name, ".", inst->index);
      instances[group] = inst.get();
      if (inst->pid > 0) keep[group] = inst->pid;
    }
  }
  for (const StoppingOrphan& o : orphans_stopping_) keep[absl::StrCat(o.engine, ".", o.index)] = o.pid;
  std::map<std::string, int> killed;  // ENGINE/N -> processes.
  auto instance_of = [&instances](const std::string& group) -> Instance* {
    auto it = instances.find(group);
    return it == instances.end() ? nullptr : it->second;
  };
  if (!cgroup_root_.empty()) {
    // Every run is born in its own leaf (CLONE_INTO_CGROUP), so a leaf with
    // members but without the kept pid is a run nobody owns.
    for (const std::string& group : os::ListDirectory(cgroup_root_)) {
      auto kept = keep.find(group);
      const std::string group_dir = absl::StrCat(cgroup_root_, "/", group);
      for (const std::string& leaf : os::ListDirectory(group_dir)) {
        const std::string dir = absl::StrCat(group_dir, "/", leaf);
        std::vector<pid_t> pids = os::CgroupPids(dir);
        if (pids.empty()) continue;
        if (kept != keep.end() &&
            std::find(pids.begin(), pids.end(), kept->second) != pids.end()) {
          continue;
        }
        const int count = os::SignalCgroup(dir, SIGKILL);
        killed[group] += count;
        if (Instance* inst = instance_of(group); inst != nullptr && count > 0) {
          inst->dying_cgroups.push_back(dir);
        }
      }
    }
  } else {
    // Without cgroups a run is known by the FLEET_* environment fleetd gave
    // it (its children inherit it). One pass over /proc: a process of this
    // fleet is kept only if it is the kept pid of its instance or younger
    // than it (what that run started since).
    std::map<pid_t, uint64_t> kept_start;
    for (const auto& [name, pid] : keep) kept_start[pid] = os::ProcessStartTime(pid).value_or(0);
    for (const std::string& entry : os::ListDirectory("/proc")) {
      pid_t pid = 0, ppid = 0, pgid = 0;
      if (!absl::SimpleAtoi(entry, &pid) || !ParentAndGroup(pid, &ppid, &pgid)) continue;
      std::optional<FleetIdentity> who = IdentityOf(pid);
      if (!who.has_value() || who->run_dir != options_.run_dir) continue;
      const std::string group = absl::StrCat(who->engine, ".", who->index);
      auto kept = keep.find(group);
      if (kept != keep.end() && pid == kept->second) continue;
      std::optional<uint64_t> start = os::ProcessStartTime(pid);
      if (!start.has_value()) continue;  // Gone already.
      if (kept != keep.end() && *start >= kept_start[kept->second]) continue;
      if (!os::SignalIfSame(pid, *start, SIGKILL)) continue;
      ++killed[group];
      if (Instance* inst = instance_of(group); inst != nullptr) inst->dying.push_back({pid, *start});
    }
  }
  for (const auto& [group, count] : killed) {
    if (count == 0) continue;
    std::string id = group;
    id[id.rfind('.')] = '/';
    Emit(id, "leftovers_killed",
         absl::StrCat(count, count == 1 ? " process" : " processes",
                      " of a run that fleetd started but no record took back (it ended, or "
                      "fleetd died before recording it): killed, so the instance runs once"));
  }
}

bool Supervisor::EarlierCopyGone(Instance* inst) {
  auto& dying = inst->dying;
  dying.erase(std::remove_if(dying.begin(), dying.end(),
                             [](const Instance::KilledProcess& p) {
                               return !os::ProcessLives(p.pid, p.start_time);
                             }),
              dying.end());
  auto& groups = inst->dying_cgroups;
  groups.erase(std::remove_if(groups.begin(), groups.end(),
                              [](const std::string& dir) { return os::CgroupPids(dir).empty(); }),
               groups.end());
  if (dying.empty() && groups.empty()) {
    inst->dying_check_due.reset();
    return true;
  }
  // A killed process is gone within milliseconds unless it sleeps
  // uninterruptibly (a hung NFS read); it is looked at again shortly.
  inst->life.Wait(dying.empty() ? absl::StrCat("an earlier copy (in ", groups.front(),
                                               ") was killed and has not ended yet")
                                : absl::StrCat("an earlier copy (pid ", dying.front().pid,
                                               ") was killed and has not ended yet"));
  inst->dying_check_due = now_ + kDyingCheckEvery;
  return false;
}

void Supervisor::RunOrphanSweep() {
  if (!orphan_sweep_due_.has_value() || *orphan_sweep_due_ > now_) return;
  orphan_sweep_due_.reset();
  const pid_t self = ::getpid();
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return;
  while (dirent* e = ::readdir(proc)) {
    pid_t pid = 0, ppid = 0, pgid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid) || by_pid_.count(pid) ||
        !ParentAndGroup(pid, &ppid, &pgid) || ppid != self) {
      continue;
    }
    std::optional<FleetIdentity> who = IdentityOf(pid);
    if (!who.has_value() || who->run_dir != options_.run_dir) continue;
    const std::string& engine = who->engine;
    const uint32_t n = who->index;
    auto it = engines_.find(engine);
    const Instance* owner = it != engines_.end() && n < it->second->instances.size()
                                ? it->second->instances[n].get()
                                : nullptr;
    // A helper the running instance started (and whose parent died) is its
    // business; only what an earlier run of it left is ended.
    const std::optional<uint64_t> orphan_start = os::ProcessStartTime(pid);
    if (!orphan_start.has_value()) continue;  // Gone already.
    if (owner != nullptr && owner->pid > 0) {
      std::optional<uint64_t> owner_start = os::ProcessStartTime(owner->pid);
      if (!owner_start || *orphan_start >= *owner_start) continue;
    }
    if (pgid == pid) os::SignalGroup(pid, SIGKILL);
    os::SignalIfSame(pid, *orphan_start, SIGKILL);
    Emit(absl::StrCat(engine, "/", n), "leftovers_killed",
         absl::StrCat("pid ", pid, " outlived the run that started it (it had left its ",
                      "process group): killed"));
  }
  ::closedir(proc);
}

void Supervisor::RemoveCgroups() {
  if (cgroup_root_.empty()) return;
  DIR* d = ::opendir(cgroup_root_.c_str());
  if (d == nullptr) return;
  std::vector<std::string> dirs;
  while (dirent* e = ::readdir(d)) {
    if (e->d_type == DT_DIR && e->d_name[0] != '.') {
      dirs.push_back(absl::StrCat(cgroup_root_, "/", e->d_name));
    }
  }
  ::closedir(d);
  // Killed members take a moment to leave; an empty cgroup left behind is
  // harmless and reused by the next fleetd.
  for (const std::string& dir : dirs) {
    for (int i = 0; i < 50 && !os::RemoveCgroup(dir); ++i) ::usleep(10000);
  }
  os::RemoveCgroup(cgroup_root_);
}

}  // namespace fleet::supervisor
