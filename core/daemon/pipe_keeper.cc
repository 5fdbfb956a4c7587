#include "core/daemon/pipe_keeper.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "core/log/log.h"
#include "core/os/files.h"
#include "core/os/process.h"

namespace fleet::daemon {
namespace {

constexpr char kLock[] = "keeper.lock";
constexpr char kStop[] = "keeper.stop";

std::string PipesDir(const std::string& run_dir) { return os::JoinPath(run_dir, "pipes"); }

// Holds the keeper's flock (released with the process); -1 if another has it.
int TakeLock(const std::string& dir) {
  int fd = ::open(os::JoinPath(dir, kLock).c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool IsFifo(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode);
}

}  // namespace

int RunPipeKeeper(const std::string& run_dir) {
  const std::string dir = PipesDir(run_dir);
  if (!os::MakeDirs(dir, 0700).ok()) return 1;
  int lock = TakeLock(dir);
  if (lock < 0) return 0;  // Another keeper holds this run directory.
  ::unlink(os::JoinPath(dir, kStop).c_str());
  // Watched before the first look, so no FIFO made in between is missed.
  const int inotify = ::inotify_init1(IN_CLOEXEC);
  const bool watching =
      inotify >= 0 &&
      ::inotify_add_watch(inotify, dir.c_str(), IN_CREATE | IN_MOVED_TO | IN_DELETE) >= 0;
  const int watch_errno = errno;
  std::map<std::string, int> held;
  auto hold = [&](const std::string& name) {
    if (held.count(name) || !IsFifo(os::JoinPath(dir, name))) return;
    int fd = ::open(os::JoinPath(dir, name).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) held[name] = fd;
  };
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) hold(e->d_name);
    ::closedir(d);
  }
  if (!watching) {
    // inotify's limits are used up: look at the directory twice a second.
    log::Warning(absl::StrCat("pipe keeper: inotify unavailable (", strerror(watch_errno),
                              "): polling ", dir));
    for (;;) {
      ::poll(nullptr, 0, 500);
      struct stat st;
      if (::lstat(dir.c_str(), &st) != 0 || ::access(os::JoinPath(dir, kStop).c_str(), F_OK) == 0) {
        return 0;  // The run directory went, or fleetd asked the keeper to stop.
      }
      for (auto it = held.begin(); it != held.end();) {
        if (IsFifo(os::JoinPath(dir, it->first))) {
          ++it;
        } else {
          ::close(it->second);
          it = held.erase(it);
        }
      }
      if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* e = ::readdir(d)) hold(e->d_name);
        ::closedir(d);
      }
    }
  }
  alignas(inotify_event) char buffer[16384];
  for (;;) {
    ssize_t n = ::read(inotify, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 1;
    for (ssize_t i = 0; i < n;) {
      auto* ev = reinterpret_cast<inotify_event*>(buffer + i);
      i += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      const std::string name = ev->len > 0 ? ev->name : "";
      if (name == kStop) return 0;
      if (ev->mask & (IN_IGNORED | IN_DELETE_SELF)) return 0;  // The run directory went.
      if (ev->mask & IN_DELETE) {
        auto it = held.find(name);
        if (it != held.end()) {
          ::close(it->second);
          held.erase(it);
        }
      } else {
        hold(name);
      }
      if (ev->mask & IN_Q_OVERFLOW) {
        if (DIR* d = ::opendir(dir.c_str())) {
          while (dirent* e = ::readdir(d)) hold(e->d_name);
          ::closedir(d);
        }
      }
    }
  }
}

void EnsurePipeKeeper(const std::string& run_dir) {
  const std::string dir = PipesDir(run_dir);
  if (!os::MakeDirs(dir, 0700).ok()) return;
  int probe = TakeLock(dir);
  if (probe < 0) return;  // One runs (it survived the last fleetd).
  ::close(probe);
  const std::string self = os::SelfExecutable();
  if (self.empty()) return;
  os::SpawnSpec spec;
  spec.argv = {self, "pipe-keeper", run_dir};
  spec.env = os::CurrentEnvironment();
  absl::StatusOr<pid_t> pid = os::Spawn(spec);
  if (!pid.ok()) {
    log::Warning(absl::StrCat("cannot start the pipe keeper (workers would die of SIGPIPE if "
                              "fleetd died): ",
                              pid.status().message()));
  }
}

void StopPipeKeeper(const std::string& run_dir) {
  const std::string dir = PipesDir(run_dir);
  (void)os::WriteFileAtomic(os::JoinPath(dir, kStop), "", 0600,
                            os::Durability::kSurvivesProcessCrash);
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string path = os::JoinPath(dir, e->d_name);
      if (IsFifo(path)) ::unlink(path.c_str());
    }
    ::closedir(d);
  }
}

}  // namespace fleet::daemon
