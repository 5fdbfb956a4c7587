// Starting processes: the program looked up in PATH, then one clone3 (or
// clone(2) where clone3 cannot be used). See process.h for the contract.
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/os/clone3.h"
#include "core/os/kernel_file.h"
#include "core/os/process.h"

namespace fleet::os {
namespace {

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string PathOf(const std::vector<std::string>& env) {
  for (const std::string& kv : env) {
    if (absl::StartsWith(kv, "PATH=")) return kv.substr(5);
  }
  return "/usr/local/bin:/usr/bin:/bin";
}

}  // namespace

absl::StatusOr<std::string> ResolveProgram(const std::string& program,
                                           const std::vector<std::string>& env,
                                           const std::string& cwd) {
  if (program.empty()) return absl::InvalidArgumentError("empty program name");
  if (program.find('/') != std::string::npos) {
    std::string path = program;
    if (program[0] != '/' && !cwd.empty()) path = absl::StrCat(cwd, "/", program);
    if (IsExecutableFile(path)) return program;
    return absl::NotFoundError(absl::StrCat("program ", path, " is not an executable file"));
  }
  for (absl::string_view dir : absl::StrSplit(PathOf(env), ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", program);
    if (IsExecutableFile(candidate)) return candidate;
  }
  return absl::NotFoundError(absl::StrCat("program ", program, " not found in PATH=", PathOf(env)));
}

namespace {

absl::Status SpawnError(const SpawnSpec& spec, int err) {
  std::string what = absl::StrCat("spawn ", spec.argv[0], ": ", strerror(err));
  if (err == ENOENT) return absl::NotFoundError(what);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(what);
  return absl::InternalError(what);
}

// Everything the child needs, built before the clone: after it, in a
// process that has threads (or that shares fleetd's memory), the child may
// only make async-signal-safe calls.
struct ChildPlan {
  const char* program;
  char* const* argv;
  char* const* envp;
  const char* cwd;   // nullptr: stay
  int in, out, err;  // become 0, 1, 2; -1: keep fleetd's (inherit_stdio)
  bool new_group;    // lead a process group of its own
  // A cgroup directory the child moves itself into before exec: where it
  // was not born there (no clone3, or the kernel refused CLONE_INTO_CGROUP).
  int join_cgroup;
  // Signals whose disposition is not SIG_DFL in fleetd (SIGPIPE is ignored):
  // the only ones the child resets. A caught signal is reset by execve
  // itself, an ignored one is not.
  const int* reset;
  int reset_count;
  // fleetd's own descriptor limit was raised (RaiseFileLimit): the child
  // gets the one fleetd was given. Null: unchanged.
  const struct rlimit* file_limit;
  // The errno if exec fails: written through shared memory (vfork), or a
  // CLOEXEC pipe (a copy-on-write child).
  volatile int* shared_errno;
  int report;
};

// The descriptor limit fleetd was started with, once RaiseFileLimit raised it.
std::optional<struct rlimit>& OriginalFileLimit() {
  static std::optional<struct rlimit> limit;
  return limit;
}
const struct rlimit* ChildFileLimit() {
  return OriginalFileLimit().has_value() ? &*OriginalFileLimit() : nullptr;
}

// Signals not at SIG_DFL, read once: fleetd sets its dispositions before it
// spawns anything (SIGPIPE ignored; the rest blocked for its signalfd).
const std::vector<int>& NonDefaultSignals() {
  static const std::vector<int>* signals = [] {
    auto* out = new std::vector<int>;
    for (int sig = 1; sig < NSIG; ++sig) {
      struct sigaction now {};
      if (sig == SIGKILL || sig == SIGSTOP || ::sigaction(sig, nullptr, &now) != 0) continue;
      if (now.sa_handler != SIG_DFL) out->push_back(sig);
    }
    return out;
  }();
  return *signals;
}

bool JoinCgroup(int cgroup_fd) {
  const int procs = ::openat(cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
  if (procs < 0) return false;
  const bool joined = ::write(procs, "0", 1) == 1;  // "0": the writer itself
  ::close(procs);
  return joined;
}

[[noreturn]] void RunChild(const ChildPlan& plan) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int i = 0; i < plan.reset_count; ++i) ::sigaction(plan.reset[i], &dfl, nullptr);
  if (plan.file_limit != nullptr) ::setrlimit(RLIMIT_NOFILE, plan.file_limit);
  // Where the cgroup cannot be joined the run is contained by its process
  // group alone, as without cgroups.
  if (plan.join_cgroup >= 0) (void)JoinCgroup(plan.join_cgroup);
  int err = 0;
  if ((plan.new_group && ::setpgid(0, 0) != 0) || (plan.in >= 0 && ::dup2(plan.in, 0) < 0) ||
      (plan.out >= 0 && ::dup2(plan.out, 1) < 0) || (plan.err >= 0 && ::dup2(plan.err, 2) < 0) ||
      (plan.cwd != nullptr && ::chdir(plan.cwd) != 0)) {
    err = errno;
  } else {
    ::syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
    // The mask once, last: every disposition is SIG_DFL by now, so a
    // signal that arrives before execve acts on the child as it should.
    sigset_t empty;
    sigemptyset(&empty);
    ::sigprocmask(SIG_SETMASK, &empty, nullptr);
    ::execve(plan.program, plan.argv, plan.envp);
    err = errno;
  }
  if (plan.shared_errno != nullptr) {
    *plan.shared_errno = err;
  } else {
    (void)!::write(plan.report, &err, sizeof(err));
  }
  ::_exit(127);
}

int RunChildEntry(void* plan) { RunChild(*static_cast<const ChildPlan*>(plan)); }

// The call that makes the child: clone3 (born in its cgroup), or clone(2)
// where clone3 is missing (a container's seccomp profile answers ENOSYS) or
// refused the cgroup.
enum class CloneCall { kClone3, kClone };

struct Started {
  long pid;        // or -errno of the clone call
  int exec_errno;  // the child's, when its exec failed (it has exited then)
};

// Where it can (x86-64, not under a sanitizer), the child shares fleetd's
// memory and fleetd waits until it has exec'ed (CLONE_VM | CLONE_VFORK, as
// posix_spawn does): no page table is copied, so a spawn costs the same
// whatever fleetd's size, and an exec error comes back through memory.
// Otherwise the child is a copy-on-write clone that reports an exec error
// through a CLOEXEC pipe.
Started StartChild(CloneCall call, int cgroup_fd, ChildPlan& plan) {
  clone_args args{};
  args.exit_signal = SIGCHLD;
  if (call == CloneCall::kClone3 && cgroup_fd >= 0) {
    args.flags = CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
  }
  if (kSharedMemorySpawn) {
    // Until the child has reset its dispositions, no handler of fleetd's may
    // run in it: every signal is blocked across the clone.
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    // The child's stack: this frame, which fleetd does not touch while it
    // waits (CLONE_VFORK).
    alignas(16) char stack[32 * 1024];
    volatile int child_errno = 0;
    plan.shared_errno = &child_errno;
    long pid;
    if (call == CloneCall::kClone3) {
      args.flags |= CLONE_VM | CLONE_VFORK;
      args.stack = reinterpret_cast<uint64_t>(stack);
      args.stack_size = sizeof(stack);
      pid = Clone3Run(&args, sizeof(args), &RunChildEntry, &plan);
    } else {
      pid = ::clone(&RunChildEntry, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, &plan);
      if (pid < 0) pid = -errno;
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    plan.shared_errno = nullptr;
    return {pid, pid > 0 ? child_errno : 0};
  }
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return {-errno, 0};
  plan.report = report[1];
  long pid = call == CloneCall::kClone3 ? ::syscall(SYS_clone3, &args, sizeof(args))
                                        : ::syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) RunChild(plan);
  if (pid < 0) pid = -errno;
  ::close(report[1]);
  int exec_errno = 0;
  if (pid > 0) {
    ssize_t n;
    do {
      n = ::read(report[0], &exec_errno, sizeof(exec_errno));
    } while (n < 0 && errno == EINTR);
    if (n != sizeof(exec_errno)) exec_errno = 0;  // EOF: exec'ed
  }
  ::close(report[0]);
  return {pid, exec_errno};
}

// Set once clone3 answered ENOSYS: later spawns go straight to clone(2).
std::atomic<bool> clone3_missing{false};

}  // namespace

absl::StatusOr<pid_t> Spawn(const SpawnSpec& spec) {
  if (spec.argv.empty()) return absl::InvalidArgumentError("spawn: empty argv");
  if (!spec.cwd.empty()) {
    struct stat st;
    if (::stat(spec.cwd.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::NotFoundError(
          absl::StrCat("working directory ", spec.cwd, " does not exist or is not a directory"));
    }
  }
  absl::StatusOr<std::string> program = ResolveProgram(spec.argv[0], spec.env, spec.cwd);
  if (!program.ok()) return program.status();

  // /dev/null for what the spec leaves unconnected.
  int null_fd = -1;
  if (!spec.inherit_stdio && (spec.input_fd < 0 || spec.output_fd < 0)) {
    null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0) return SpawnError(spec, errno);
  }
  absl::Cleanup close_null = [&] {
    if (null_fd >= 0) ::close(null_fd);
  };
  // Resolved path, but argv[0] as the operator wrote it.
  std::vector<char*> argv;
  for (const std::string& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const std::vector<int>& reset = NonDefaultSignals();
  ChildPlan plan{};
  plan.program = program->c_str();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
  plan.in = plan.out = plan.err = -1;
  if (!spec.inherit_stdio) {
    plan.in = spec.input_fd >= 0 ? spec.input_fd : null_fd;
    plan.out = spec.output_fd >= 0 ? spec.output_fd : null_fd;
    plan.err = spec.error_fd >= 0 ? spec.error_fd : plan.out;
  }
  // A foreground command (fleetctl lock) stays in the caller's group.
  plan.new_group = !spec.inherit_stdio;
  plan.join_cgroup = -1;
  plan.reset = reset.data();
  plan.reset_count = static_cast<int>(reset.size());
  plan.file_limit = ChildFileLimit();
  plan.report = -1;

  Started started{-ENOSYS, 0};
  if (!clone3_missing.load(std::memory_order_relaxed)) {
    started = StartChild(CloneCall::kClone3, spec.cgroup_fd, plan);
    if (started.pid == -ENOSYS) clone3_missing.store(true, std::memory_order_relaxed);
  }
  if (started.pid < 0) {
    plan.join_cgroup = spec.cgroup_fd;
    started = StartChild(CloneCall::kClone, -1, plan);
  }
  if (started.pid < 0) return SpawnError(spec, static_cast<int>(-started.pid));
  const pid_t pid = static_cast<pid_t>(started.pid);
  if (started.exec_errno != 0) {  // the child has exited
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return SpawnError(spec, started.exec_errno);
  }
  return pid;
}

FileLimit RaiseFileLimit(uint64_t want) {
  struct rlimit now {};
  if (::getrlimit(RLIMIT_NOFILE, &now) != 0) return {};
  FileLimit out{static_cast<uint64_t>(now.rlim_cur), static_cast<uint64_t>(now.rlim_cur)};
  struct rlimit raised = now;
  bool set = false;
  if (want > now.rlim_max) {
    // Past the hard limit: only with CAP_SYS_RESOURCE, and never past the
    // kernel's ceiling for one process.
    uint64_t ceiling = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadKernelFile("/proc/sys/fs/nr_open")),
                         &ceiling) &&
        ceiling > 0) {
      want = std::min(want, ceiling);
    }
    const struct rlimit more = {static_cast<rlim_t>(want), static_cast<rlim_t>(want)};
    if (want > now.rlim_max && ::setrlimit(RLIMIT_NOFILE, &more) == 0) {
      raised = more;
      set = true;
    }
  }
  if (!set && now.rlim_cur < now.rlim_max) {
    raised.rlim_cur = now.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) return out;
    set = true;
  }
  if (!set) return out;
  if (!OriginalFileLimit().has_value()) OriginalFileLimit() = now;
  out.now = static_cast<uint64_t>(raised.rlim_cur);
  return out;
}
}  // namespace fleet::os
