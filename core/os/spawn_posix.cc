// Starting processes: the program looked up in PATH, then one clone3 (or
// posix_spawn where clone3 cannot be used). See process.h for the contract.
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/os/clone3.h"
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

// Everything the clone3 child needs, built before the clone: after it, in a
// process that has threads (or that shares fleetd's memory), the child may
// only make async-signal-safe calls.
struct ChildPlan {
  const char* program;
  char* const* argv;
  char* const* envp;
  const char* cwd;  // nullptr: stay
  int in, out, err;
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

[[noreturn]] void RunChild(const ChildPlan& plan) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int i = 0; i < plan.reset_count; ++i) ::sigaction(plan.reset[i], &dfl, nullptr);
  if (plan.file_limit != nullptr) ::setrlimit(RLIMIT_NOFILE, plan.file_limit);
  int err = 0;
  if (::setpgid(0, 0) != 0 || ::dup2(plan.in, 0) < 0 || ::dup2(plan.out, 1) < 0 ||
      ::dup2(plan.err, 2) < 0 || (plan.cwd != nullptr && ::chdir(plan.cwd) != 0)) {
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

// Spawn with clone3, into spec.cgroup_fd if there is one; kUnavailable when
// the kernel has no clone3 or refuses the cgroup (the caller falls back to
// posix_spawn).
// Where it can (x86-64, not under a sanitizer), the child shares fleetd's
// memory and fleetd waits until it has exec'ed (CLONE_VM | CLONE_VFORK, as
// posix_spawn does): no page table is copied, so a spawn costs the same
// whatever fleetd's size, and an exec error comes back through memory.
absl::StatusOr<pid_t> SpawnWithClone3(const SpawnSpec& spec, const std::string& program,
                                      char* const* argv, char* const* envp) {
  int null_in = -1;
  if (spec.input_fd < 0) {
    null_in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_in < 0) return SpawnError(spec, errno);
  }
  absl::Cleanup close_in = [&] {
    if (null_in >= 0) ::close(null_in);
  };
  const std::vector<int>& reset = NonDefaultSignals();
  volatile int child_errno = 0;
  ChildPlan plan{program.c_str(),
                 argv,
                 envp,
                 spec.cwd.empty() ? nullptr : spec.cwd.c_str(),
                 spec.input_fd >= 0 ? spec.input_fd : null_in,
                 spec.output_fd,
                 spec.error_fd >= 0 ? spec.error_fd : spec.output_fd,
                 reset.data(),
                 static_cast<int>(reset.size()),
                 ChildFileLimit(),
                 nullptr,
                 -1};
  clone_args args{};
  args.exit_signal = SIGCHLD;
  if (spec.cgroup_fd >= 0) {
    args.flags = CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(spec.cgroup_fd);
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
    args.flags |= CLONE_VM | CLONE_VFORK;
    args.stack = reinterpret_cast<uint64_t>(stack);
    args.stack_size = sizeof(stack);
    plan.shared_errno = &child_errno;
    const long pid = Clone3Run(&args, sizeof(args), &RunChildEntry, &plan);
    const int clone_errno = pid < 0 ? static_cast<int>(-pid) : 0;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (pid < 0) return absl::UnavailableError(absl::StrCat("clone3: ", strerror(clone_errno)));
    if (child_errno != 0) {  // exec failed; the child has exited.
      int status;
      while (::waitpid(static_cast<pid_t>(pid), &status, 0) < 0 && errno == EINTR) {
      }
      return SpawnError(spec, child_errno);
    }
    return static_cast<pid_t>(pid);
  }
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return SpawnError(spec, errno);
  plan.report = report[1];
  long pid = ::syscall(SYS_clone3, &args, sizeof(args));
  if (pid == 0) RunChild(plan);
  const int clone_errno = errno;
  ::close(report[1]);
  if (pid < 0) {
    ::close(report[0]);
    return absl::UnavailableError(absl::StrCat("clone3: ", strerror(clone_errno)));
  }
  int read_errno = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &read_errno, sizeof(read_errno));
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n == sizeof(read_errno)) {  // exec failed; the child has exited.
    int status;
    while (::waitpid(static_cast<pid_t>(pid), &status, 0) < 0 && errno == EINTR) {
    }
    return SpawnError(spec, read_errno);
  }
  return static_cast<pid_t>(pid);
}

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

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  absl::Cleanup destroy_actions = [&] { posix_spawn_file_actions_destroy(&actions); };
  if (spec.inherit_stdio) {
    // Keep 0-2 as they are.
  } else if (spec.output_fd >= 0) {
    if (spec.input_fd >= 0) {
      posix_spawn_file_actions_adddup2(&actions, spec.input_fd, 0);
    } else {
      posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    }
    posix_spawn_file_actions_adddup2(&actions, spec.output_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, spec.error_fd >= 0 ? spec.error_fd : spec.output_fd,
                                     2);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
  }
  if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, spec.cwd.c_str());
  // Whatever fleetd (or whoever started it) holds stays out of the child.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  absl::Cleanup destroy_attr = [&] { posix_spawnattr_destroy(&attr); };
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  // fleetd blocks SIGCHLD/SIGTERM/... for its signalfd: the child must not
  // inherit that mask, or it would ignore SIGTERM.
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (!spec.inherit_stdio) flags |= POSIX_SPAWN_SETPGROUP;
  posix_spawnattr_setflags(&attr, flags);

  std::vector<char*> argv;
  for (const std::string& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  if (!spec.inherit_stdio && spec.output_fd >= 0) {
    absl::StatusOr<pid_t> pid = SpawnWithClone3(spec, *program, argv.data(), envp.data());
    if (pid.ok() || !absl::IsUnavailable(pid.status())) return pid;
  }
  // Resolved path, but argv[0] as the operator wrote it. posix_spawn uses
  // CLONE_VFORK: safe after gRPC has started threads, unlike fork().
  pid_t pid = -1;
  int err = posix_spawn(&pid, program->c_str(), &actions, &attr, argv.data(), envp.data());
  if (err != 0) return SpawnError(spec, err);
  if (spec.cgroup_fd >= 0) {
    // No clone3 here: moved right after exec, a tiny window for an escape.
    int procs = ::openat(spec.cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (procs >= 0) {
      std::string text = absl::StrCat(pid);
      (void)!::write(procs, text.data(), text.size());
      ::close(procs);
    }
  }
  return pid;
}

FileLimit RaiseFileLimit() {
  struct rlimit now {};
  if (::getrlimit(RLIMIT_NOFILE, &now) != 0) return {};
  FileLimit out{static_cast<uint64_t>(now.rlim_cur), static_cast<uint64_t>(now.rlim_cur)};
  if (now.rlim_cur >= now.rlim_max) return out;
  struct rlimit raised = now;
  raised.rlim_cur = now.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) return out;
  if (!OriginalFileLimit().has_value()) OriginalFileLimit() = now;
  out.now = static_cast<uint64_t>(raised.rlim_cur);
  return out;
}
}  // namespace fleet::os
