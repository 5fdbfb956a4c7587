// What the built-in plugins need to know about other processes, from /proc
// (std only): whether a file is open somewhere, and whether a recorded owner
// (pid + start time) is still the same live process.
#ifndef FLEET_PLUGINS_PROCFS_PROCFS_H_
#define FLEET_PLUGINS_PROCFS_PROCFS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace fleet::plugins::procfs {

// True when some process has `path` (a resolved, absolute path) open. When
// /proc cannot be read, true: a lock is never taken for stale on a guess.
bool OpenByAnyProcess(const std::string& path);

// /proc/PID/stat field 22 (clock ticks since boot), or 0 when pid is gone.
uint64_t StartTime(pid_t pid);

// The owner recorded as "PID STARTTIME" (or just "PID") is alive and is
// still that process (a reused pid has another start time).
bool OwnerAlive(const std::string& owner_record);

}  // namespace fleet::plugins::procfs

#endif  // FLEET_PLUGINS_PROCFS_PROCFS_H_
