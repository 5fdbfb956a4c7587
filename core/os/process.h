// Starting, signalling and reaping processes: the only place fleet calls
// clone, kill and waitpid (LevelDB's Env rule).
#ifndef FLEET_CORE_OS_PROCESS_H_
#define FLEET_CORE_OS_PROCESS_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fleet::os {

struct SpawnSpec {
  // argv[0] is looked up in the PATH of `env` unless it contains a '/'.
  std::vector<std::string> argv;
  // The complete environment, "KEY=value".
  std::vector<std::string> env;
  // Working directory; empty: fleetd's.
  std::string cwd;
  // Becomes the child's stdout and stderr; stdin is /dev/null. -1: /dev/null.
  int output_fd = -1;
  // When >= 0, stderr goes here instead of to output_fd.
  int error_fd = -1;
  // When >= 0, becomes stdin instead of /dev/null.
  int input_fd = -1;
  // A foreground command (fleetctl lock): keeps the caller's stdin, stdout,
  // stderr and process group; output_fd is ignored.
  bool inherit_stdio = false;
  // When >= 0 (an O_DIRECTORY fd of a cgroup v2 directory, see cgroup.h),
  // the child is born inside that cgroup (clone3 CLONE_INTO_CGROUP), so not
  // even its first fork escapes it. Where the kernel has no clone3 or
  // refuses, the child moves itself there before it execs.
  int cgroup_fd = -1;
};

// How a process ended.
struct ExitStatus {
  int code = 0;    // exit status when !signaled
  int signal = 0;  // terminating signal when signaled
  bool signaled = false;
  // The process was not our child (adopted after a fleetd restart): it is
  // known to be gone, not how it ended. Counts as a failure.
  bool unknown = false;
  // Killed by the kernel's OOM killer (the supervisor learns it from the
  // cgroup's counters, not from wait status).
  bool oom_killed = false;
  // "exited with status 3", "killed by SIGKILL".
  std::string Describe() const;
  bool Success() const { return !signaled && !unknown && code == 0; }
};

struct Reaped {
  pid_t pid;
  ExitStatus status;
};

// Starts spec in a new process group (pgid = pid) with default signal
// dispositions, an empty signal mask and no fd but 0-2 open.
// Errors: kNotFound (no such program or cwd), kPermissionDenied,
// kInternal (fork/exec failure); the message names the program.
absl::StatusOr<pid_t> Spawn(const SpawnSpec& spec);

// This process's environment as "KEY=value" strings (a SpawnSpec's env).
std::vector<std::string> CurrentEnvironment();

// Resolves argv[0] the way Spawn will; for error messages and validation.
absl::StatusOr<std::string> ResolveProgram(const std::string& program,
                                           const std::vector<std::string>& env,
                                           const std::string& cwd);

// Sends sig to every process in group pgid. Returns false when the group is
// empty (ESRCH).
bool SignalGroup(pid_t pgid, int sig);

// A pidfd for pid (pidfd_open), or -1. Signals through it can never reach a
// process that reused the pid. Close it with close().
int PidfdOpen(pid_t pid);
// Sends sig through a pidfd; false when the process is gone.
bool PidfdSignal(int pidfd, int sig);
// Sends sig to the process pid only if it is still the one that started at
// start_time (ProcessStartTime): checked and signalled through a pidfd, so
// a pid reused meanwhile is never hit. False if it is gone or another.
bool SignalIfSame(pid_t pid, uint64_t start_time, int sig);

// Blocks until child pid exits (retrying on EINTR) and reaps it.
ExitStatus WaitProcess(pid_t pid);

// Reaps exited children without blocking (SIGCHLD coalesces), at most max.
std::vector<Reaped> ReapExitedChildren(size_t max = SIZE_MAX);

// The process's start time in clock ticks since boot (/proc/PID/stat field 22),
// which with the pid names a process uniquely. nullopt if it does not exist.
std::optional<uint64_t> ProcessStartTime(pid_t pid);

// CPU time (user + system, in clock ticks: sysconf(_SC_CLK_TCK) per second)
// and resident memory of one process; nullopt if it is gone.
struct ProcessUsage {
  uint64_t cpu_ticks = 0;
  uint64_t rss_bytes = 0;
};
std::optional<ProcessUsage> ReadProcessUsage(pid_t pid);

// Whether pid is still the process that started at start_time and has not
// exited (a zombie has: it runs no code and holds nothing but its pid).
bool ProcessLives(pid_t pid, uint64_t start_time);

// This process's resident memory (/proc/self/statm), and its open
// descriptors (/proc/self/fd): 0 when they cannot be read.
uint64_t SelfRssBytes();
uint32_t SelfOpenFds();

// fleetd's descriptor limit (RLIMIT_NOFILE), soft, before and after it is
// raised: to the hard limit, and past it to `want` where the process may
// (CAP_SYS_RESOURCE, as root; never past fs.nr_open). Children spawned
// after it get the soft limit fleetd was first given (a select()-based
// program expects no more), not this.
struct FileLimit {
  uint64_t before = 0;
  uint64_t now = 0;
};
FileLimit RaiseFileLimit(uint64_t want = 0);

// This program's own path (/proc/self/exe), "" if it cannot be read: to
// find what is installed beside it, or to run itself again.
std::string SelfExecutable();

// Signal number for "TERM", "SIGTERM", "15"; nullopt if unknown.
std::optional<int> SignalFromName(const std::string& name);
std::string SignalName(int sig);

}  // namespace fleet::os

#endif  // FLEET_CORE_OS_PROCESS_H_
