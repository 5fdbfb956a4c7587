// Nothing an instance started outlives it. Where cgroup v2 is writable, each
// instance is born in its own cgroup (RUN: <fleetd's cgroup>/fleet.<key>/
// ENGINE.N, a fresh leaf per run): stop signals reach every member, and
// when the instance ends, cgroup.kill ends whatever it left, even a daemon
// that called setsid() and double-forked. Elsewhere the process group does
// that work, and fleetd, as child subreaper, inherits what escaped it once
// its parent dies: such an orphan that carries an instance's environment and
// is older than that instance's current process (or whose instance is not
// running) is killed. And when fleetd comes back, every process of this
// fleet that no taken-back record accounts for is ended before anything is
// spawned: an instance runs once. Part of the supervision core (the process
// table's way of ending processes), not a feature module. Loop thread only.
#ifndef FLEET_CORE_SUPERVISOR_CONTAINMENT_H_
#define FLEET_CORE_SUPERVISOR_CONTAINMENT_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/os/clock.h"

namespace fleet::supervisor {

class Containment {
 public:
  using Emit = std::function<void(const std::string& subject, const std::string& kind,
                                  const std::string& message)>;
  // run_dir: whose processes these are (their FLEET_RUN_DIR).
  Containment(std::string run_dir, Emit emit)
      : run_dir_(std::move(run_dir)), emit_(std::move(emit)) {}

  // Finds (or makes) the fleet's cgroup root; without one (or use_cgroups
  // off) instances are tracked by process group. Says which in fleetd's log.
  void Init(bool use_cgroups);
  bool cgroups() const { return !root_.empty(); }

  // Where a run of ENGINE.N is to live: a fresh cgroup leaf's path, made
  // where the run is started (os::OpenFreshLeaf, off the loop); "" outside
  // cgroups.
  std::string NextLeaf(const std::string& engine, uint32_t index, absl::Time wall);

  // sig to the run's process group and, in cgroups, every member.
  void Signal(const std::string& engine, uint32_t index, pid_t pid, int sig);

  // The run (old_pid) of instance id has ended: what it left is killed (its
  // process group; in cgroups its cgroup, said as an event). Without
  // cgroups an orphan sweep is scheduled for what escaped the group.
  void EndLeftovers(const std::string& id, const std::string& engine, uint32_t index, pid_t old_pid,
                    os::MonoTime now);

  // As fleetd comes back, before anything is spawned: kills every process
  // of this fleet not accounted for by keep (ENGINE.N -> the pid that
  // stays). What was killed, by ENGINE.N, for the instance to wait for.
  struct Killed {
    pid_t pid;
    uint64_t start_time;
  };
  struct Unowned {
    std::vector<Killed> processes;
    std::vector<std::string> cgroups;
  };
  // A survivor being stopped as an orphan (StopOrphan) is kept too.
  std::map<std::string, Unowned> EndUnowned(std::map<std::string, pid_t> keep);
  // Forgets what has ended of *dying; true when nothing is left.
  static bool Ended(Unowned* dying);

  // A survivor of an engine the config no longer has (fleetd came back
  // without it): SIGTERM to its group now, SIGKILL after a grace if the
  // same process (pid and start time) is still there.
  void StopOrphan(const std::string& engine, uint32_t index, pid_t pid, uint64_t start_time,
                  os::MonoTime now);
  static constexpr absl::Duration kOrphanGrace = absl::Seconds(10);
  std::optional<os::MonoTime> orphan_kill_due() const;
  void KillStubbornOrphans(os::MonoTime now);

  // Without cgroups: when to look for orphans an ended run left.
  std::optional<os::MonoTime> sweep_due() const { return sweep_due_; }
  // The sweep: ours(pid) says a child is one of the instances' own
  // processes; current(engine, index) is that instance's running pid (0: none).
  void SweepOrphans(os::MonoTime now, const std::function<bool(pid_t)>& ours,
                    const std::function<pid_t(const std::string&, uint32_t)>& current);

  // As fleetd ends: the (emptied) cgroups go.
  void RemoveAll();

 private:
  std::string CgroupDir(const std::string& engine, uint32_t index) const;

  const std::string run_dir_;
  Emit emit_;
  // Where instance cgroups live; empty: cgroups are not used here.
  std::string root_;
  std::optional<os::MonoTime> sweep_due_;
  struct StoppingOrphan {
    std::string engine;
    uint32_t index;
    pid_t pid;
    uint64_t start_time;
    os::MonoTime kill_at;
  };
  std::vector<StoppingOrphan> orphans_stopping_;
  uint64_t leaf_seq_ = 0;
};

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_CONTAINMENT_H_
