#include "core/supervisor/containment.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/log/log.h"
#include "core/os/cgroup.h"
#include "core/os/env.h"
#include "core/os/files.h"
#include "core/os/process.h"
#include "core/supervisor/instance_records.h"

namespace fleet::supervisor {
namespace {

constexpr absl::Duration kOrphanSweepDelay = absl::Milliseconds(200);

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

void Containment::Init(bool use_cgroups) {
  if (!use_cgroups) {
    log::Info("cgroups: off (FLEET_CGROUPS=off); instances are tracked by process group");
    return;
  }
  absl::StatusOr<std::string> root =
      os::PrepareCgroupRoot(absl::StrCat("run-", absl::Hex(StableHash(run_dir_))));
  if (!root.ok()) {
    log::Info(absl::StrCat("cgroups: not used (", root.status().message(),
                           "); instances are tracked by process group, escaped "
                           "orphans are caught as child subreaper"));
    return;
  }
  root_ = *root;
  log::Info(absl::StrCat("cgroups: each instance runs in its own cgroup under ", root_));
}

std::string Containment::CgroupDir(const std::string& engine, uint32_t index) const {
  if (root_.empty()) return "";
  return absl::StrCat(root_, "/", engine, ".", index);
}

std::string Containment::NextLeaf(const std::string& engine, uint32_t index, absl::Time wall) {
  const std::string cgroup = CgroupDir(engine, index);
  if (cgroup.empty()) return "";
  return absl::StrCat(cgroup, "/run-", absl::ToUnixMillis(wall), "-", ++leaf_seq_);
}

void Containment::Signal(const std::string& engine, uint32_t index, pid_t pid, int sig) {
  if (pid > 0) os::CurrentEnv()->SignalGroup(pid, sig);
  const std::string dir = CgroupDir(engine, index);
  if (!dir.empty()) os::SignalCgroup(dir, sig);
}

void Containment::EndLeftovers(const std::string& id, const std::string& engine, uint32_t index,
                               pid_t old_pid, os::MonoTime now) {
  os::CurrentEnv()->SignalGroup(old_pid, SIGKILL);
  const std::string dir = CgroupDir(engine, index);
  if (dir.empty()) {
    if (!sweep_due_.has_value()) sweep_due_ = now + kOrphanSweepDelay;
    return;
  }
  int left = os::SignalCgroup(dir, SIGKILL);
  if (left > 0) {
    emit_(id, "leftovers_killed",
          absl::StrCat(left, left == 1 ? " process" : " processes",
                       " it started outlived it (in its cgroup): killed"));
  }
}

std::map<std::string, Containment::Unowned> Containment::EndUnowned(
    std::map<std::string, pid_t> keep) {
  for (const StoppingOrphan& o : orphans_stopping_)
    keep[absl::StrCat(o.engine, ".", o.index)] = o.pid;
  std::map<std::string, Unowned> killed;  // ENGINE.N -> what was killed.
  std::map<std::string, int> counts;
  if (!root_.empty()) {
    // Every run is born in its own leaf (CLONE_INTO_CGROUP), so a leaf with
    // members but without the kept pid is a run nobody owns.
    for (const std::string& group : os::ListDirectory(root_)) {
      auto kept = keep.find(group);
      const std::string group_dir = absl::StrCat(root_, "/", group);
      for (const std::string& leaf : os::ListDirectory(group_dir)) {
        const std::string dir = absl::StrCat(group_dir, "/", leaf);
        std::vector<pid_t> pids = os::CgroupPids(dir);
        if (pids.empty()) continue;
        if (kept != keep.end() && std::find(pids.begin(), pids.end(), kept->second) != pids.end()) {
          continue;
        }
        const int count = os::SignalCgroup(dir, SIGKILL);
        counts[group] += count;
        if (count > 0) killed[group].cgroups.push_back(dir);
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
      if (!who.has_value() || who->run_dir != run_dir_) continue;
      const std::string group = absl::StrCat(who->engine, ".", who->index);
      auto kept = keep.find(group);
      if (kept != keep.end() && pid == kept->second) continue;
      std::optional<uint64_t> start = os::ProcessStartTime(pid);
      if (!start.has_value()) continue;  // Gone already.
      if (kept != keep.end() && *start >= kept_start[kept->second]) continue;
      if (!os::SignalIfSame(pid, *start, SIGKILL)) continue;
      ++counts[group];
      killed[group].processes.push_back({pid, *start});
    }
  }
  for (const auto& [group, count] : counts) {
    if (count == 0) continue;
    std::string id = group;
    id[id.rfind('.')] = '/';
    emit_(id, "leftovers_killed",
          absl::StrCat(count, count == 1 ? " process" : " processes",
                       " of a run that fleetd started but no record took back (it ended, or "
                       "fleetd died before recording it): killed, so the instance runs once"));
  }
  return killed;
}

void Containment::SweepOrphans(os::MonoTime now, const std::function<bool(pid_t)>& ours,
                               const std::function<pid_t(const std::string&, uint32_t)>& current) {
  if (!sweep_due_.has_value() || *sweep_due_ > now) return;
  sweep_due_.reset();
  const pid_t self = ::getpid();
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return;
  while (dirent* e = ::readdir(proc)) {
    pid_t pid = 0, ppid = 0, pgid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid) || ours(pid) || !ParentAndGroup(pid, &ppid, &pgid) ||
        ppid != self) {
      continue;
    }
    std::optional<FleetIdentity> who = IdentityOf(pid);
    if (!who.has_value() || who->run_dir != run_dir_) continue;
    // A helper the running instance started (and whose parent died) is its
    // business; only what an earlier run of it left is ended.
    const std::optional<uint64_t> orphan_start = os::ProcessStartTime(pid);
    if (!orphan_start.has_value()) continue;  // Gone already.
    if (const pid_t owner = current(who->engine, who->index); owner > 0) {
      std::optional<uint64_t> owner_start = os::ProcessStartTime(owner);
      if (!owner_start || *orphan_start >= *owner_start) continue;
    }
    if (pgid == pid) os::CurrentEnv()->SignalGroup(pid, SIGKILL);
    os::SignalIfSame(pid, *orphan_start, SIGKILL);
    emit_(absl::StrCat(who->engine, "/", who->index), "leftovers_killed",
          absl::StrCat("pid ", pid, " outlived the run that started it (it had left its ",
                       "process group): killed"));
  }
  ::closedir(proc);
}

bool Containment::Ended(Unowned* dying) {
  auto& p = dying->processes;
  p.erase(std::remove_if(p.begin(), p.end(),
                         [](const Killed& k) { return !os::ProcessLives(k.pid, k.start_time); }),
          p.end());
  auto& c = dying->cgroups;
  c.erase(std::remove_if(c.begin(), c.end(),
                         [](const std::string& dir) { return os::CgroupPids(dir).empty(); }),
          c.end());
  return p.empty() && c.empty();
}

void Containment::StopOrphan(const std::string& engine, uint32_t index, pid_t pid,
                             uint64_t start_time, os::MonoTime now) {
  for (int sig : {SIGTERM, SIGCONT}) Signal(engine, index, pid, sig);
  orphans_stopping_.push_back({engine, index, pid, start_time, now + kOrphanGrace});
}

std::optional<os::MonoTime> Containment::orphan_kill_due() const {
  std::optional<os::MonoTime> due;
  for (const StoppingOrphan& o : orphans_stopping_) {
    if (!due.has_value() || o.kill_at < *due) due = o.kill_at;
  }
  return due;
}

void Containment::KillStubbornOrphans(os::MonoTime now) {
  for (auto it = orphans_stopping_.begin(); it != orphans_stopping_.end();) {
    if (it->kill_at > now) {
      ++it;
      continue;
    }
    if (os::ProcessLives(it->pid, it->start_time)) {
      Signal(it->engine, it->index, it->pid, SIGKILL);
      emit_(absl::StrCat(it->engine, "/", it->index), "killed",
            absl::StrCat("pid ", it->pid, " ignored SIGTERM for ",
                         absl::FormatDuration(kOrphanGrace), ": SIGKILL"));
    }
    it = orphans_stopping_.erase(it);
  }
}

void Containment::RemoveAll() {
  if (root_.empty()) return;
  DIR* d = ::opendir(root_.c_str());
  if (d == nullptr) return;
  std::vector<std::string> dirs;
  while (dirent* e = ::readdir(d)) {
    if (e->d_type == DT_DIR && e->d_name[0] != '.') {
      dirs.push_back(absl::StrCat(root_, "/", e->d_name));
    }
  }
  ::closedir(d);
  // Killed members take a moment to leave; an empty cgroup left behind is
  // harmless and reused by the next fleetd.
  for (const std::string& dir : dirs) {
    for (int i = 0; i < 50 && !os::RemoveCgroup(dir); ++i) ::usleep(10000);
  }
  os::RemoveCgroup(root_);
}

}  // namespace fleet::supervisor
