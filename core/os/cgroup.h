// cgroup v2 groups for instances: a process that escapes its process group
// (setsid) or double-forks is still in its instance's cgroup, and
// cgroup.kill ends every one of them. Used where the cgroup2 hierarchy is
// mounted and fleetd's own cgroup is writable (root, or a systemd unit with
// Delegate=yes); elsewhere fleet falls back to process groups and its role
// as child subreaper.
#ifndef FLEET_CORE_OS_CGROUP_H_
#define FLEET_CORE_OS_CGROUP_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fleet::os {

// The directory under which fleetd makes one cgroup per instance:
// <cgroup2 mount><fleetd's own cgroup>/fleet.<name>, created if needed.
// An error says why cgroups cannot be used here (no cgroup2, not writable).
absl::StatusOr<std::string> PrepareCgroupRoot(const std::string& name);

// The cgroup directory `dir` (and its parent), created if needed; an
// O_DIRECTORY fd for SpawnSpec::cgroup_fd, or an error. Close it with close().
// Spawn into a fresh leaf each time: a cgroup once killed through cgroup.kill
// kills every child later cloned into it with CLONE_INTO_CGROUP (seen on
// this kernel: the fork compares the killed cgroup's kill count with the
// parent's), so a killed leaf is never reused.
absl::StatusOr<int> OpenCgroup(const std::string& dir);

// A run's fresh leaf (see above) in its instance's cgroup: the empty leaves
// of earlier runs beside it are removed first, then it is made and opened.
absl::StatusOr<int> OpenFreshLeaf(const std::string& leaf);

// Pids in the cgroup and its descendants; empty if it is gone.
std::vector<pid_t> CgroupPids(const std::string& dir);

// Sends sig to every process in the cgroup and its descendants; SIGKILL goes through cgroup.kill
// (atomic against forks) where the kernel has it. Returns how many
// processes were signalled (for SIGKILL via cgroup.kill: those present).
int SignalCgroup(const std::string& dir, int sig);

// Removes the cgroup and its descendant cgroups if they are empty; false if
// one still has processes.
bool RemoveCgroup(const std::string& dir);

// How many processes the kernel's OOM killer has killed where a process in
// the cgroup v2 `leaf` lives: memory.events of the leaf, or of its nearest
// ancestor with the memory controller on (fleetd's own unit under systemd);
// else the cgroup v1 memory cgroup fleetd and its children share; else the
// whole machine (/proc/vmstat). Only the leaf's own count is exact. A run that died of SIGKILL
// while this count rose was, most likely, killed for memory. nullopt: none of them is readable.
struct OomKillCount {
  uint64_t kills = 0;
  bool exact = false;  // Counted for the leaf alone.
};
std::optional<OomKillCount> ReadOomKills(const std::string& leaf);

}  // namespace fleet::os

#endif  // FLEET_CORE_OS_CGROUP_H_
