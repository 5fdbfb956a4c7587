// Files watched for change: inotify on their directories (appends, touches,
// rewrites, atomic renames), or, where inotify is used up
// (fs.inotify.max_user_instances or max_user_watches), a look at each one
// every second instead. Each file's last change is kept on the monotonic
// clock (its mtime placed there once, at first sight), so a wall-clock jump
// changes no file's age. Lost events (a queue overflow) are reported as a
// change of every file, its age taken from its mtime again. A watched file
// is a worker's (its log, heartbeat, metrics): looked at with lstat, never
// followed through a symlink it planted, never opened.
// Not thread-safe: fleetd's loop owns it.
#ifndef FLEET_CORE_SUPERVISOR_FILE_WATCH_H_
#define FLEET_CORE_SUPERVISOR_FILE_WATCH_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/os/clock.h"

namespace fleet::supervisor {

class FileWatch {
 public:
  // complete: its writer closed it, or it was renamed into place (or the
  // watch lost track: look again); else a write in progress.
  using OnChange = std::function<void(const std::string& path, bool complete)>;
  // on_polling: inotify cannot be used (why); from now on files are polled.
  FileWatch(os::Clock* clock, OnChange on_change,
            std::function<void(const std::string&)> on_polling);
  ~FileWatch();
  FileWatch(const FileWatch&) = delete;
  FileWatch& operator=(const FileWatch&) = delete;

  // Opens the inotify descriptor (non-blocking); without one it polls.
  void Init();
  // For the caller's epoll set; -1 while polling.
  int fd() const { return polling_ ? -1 : fd_; }
  bool polling() const { return polling_; }

  // The files to watch from now on (in any order, repeats allowed).
  void Set(std::vector<std::string> paths, os::MonoTime now);
  // A watched file's directory did not exist yet: Set again (at most once a
  // second, however often the fleet changes).
  bool wants_retry(os::MonoTime now) const { return retry_ && now >= retry_at_; }
  const std::vector<std::string>& paths() const { return paths_; }

  // The inotify descriptor is readable: changes are reported.
  void OnReadable(os::MonoTime now);
  // While polling: when to Rescan next.
  std::optional<os::MonoTime> NextRescan() const { return rescan_due_; }
  void Rescan(os::MonoTime now);

  // When path last changed (monotonic); nullopt: never seen.
  std::optional<os::MonoTime> ChangedAt(const std::string& path) const;

 private:
  void StartPolling(const std::string& why, os::MonoTime now);
  void Changed(const std::string& path, bool complete, os::MonoTime now);

  os::Clock* clock_;
  OnChange on_change_;
  std::function<void(const std::string&)> on_polling_;
  int fd_ = -1;
  bool polling_ = false;
  bool retry_ = false;
  os::MonoTime retry_at_;
  std::vector<std::string> paths_;
  // Watched directories by inotify watch and back.
  absl::flat_hash_map<int, std::string> dirs_;
  absl::flat_hash_map<std::string, int> watches_;
  absl::flat_hash_map<std::string, os::MonoTime> changed_at_;
  // Polling: when the next rescan is due, and what each file looked like at
  // the last one (mtime, size, inode; absent: no such file).
  std::optional<os::MonoTime> rescan_due_;
  struct Stamp {
    int64_t mtime_ns = 0;
    int64_t size = 0;
    uint64_t inode = 0;
    bool operator==(const Stamp& o) const {
      return mtime_ns == o.mtime_ns && size == o.size && inode == o.inode;
    }
  };
  absl::flat_hash_map<std::string, std::optional<Stamp>> stamps_;
};

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_FILE_WATCH_H_
