// Watched files: what modules ask to be watched (metrics files, health's
// log and heartbeat paths) and intelligence answers, by inotify on their
// directories (or by polling without inotify). Each file's last change is
// kept on the monotonic clock, so a wall-clock jump changes no idleness.
// Loop thread only.
#include <errno.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/os/files.h"
#include "core/supervisor/supervisor.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {
namespace {
// Without inotify, how often watched files are looked at.
constexpr absl::Duration kRescanEvery = absl::Seconds(1);
}  // namespace

void Supervisor::SetSpec(Engine* engine, const fleet::config::v1::Engine& spec) {
  engine->spec = std::make_shared<fleet::config::v1::Engine>(spec);
  engine->scheduled = spec.type() != fleet::config::v1::ENGINE_TYPE_DAEMON;
}

std::optional<MonoTime> Supervisor::FileChangedAt(const std::string& path) const {
  auto it = file_changed_at_.find(path);
  if (it == file_changed_at_.end()) return std::nullopt;
  return it->second;
}

void Supervisor::WatchFiles() {
  if (!rewatch_) return;  // Runs after every state change; the set rarely moves.
  rewatch_ = false;
  std::vector<std::string> watched;
  for (const auto& m : modules_) m->WatchedFiles(&watched);
  std::sort(watched.begin(), watched.end());
  watched.erase(std::unique(watched.begin(), watched.end()), watched.end());
  watched_files_ = watched;
  for (const std::string& path : watched) {
    if (!file_changed_at_.contains(path)) {
      // First sight: place its mtime on the monotonic clock, once. From here
      // on only inotify moves it, so a wall-clock jump changes nothing.
      struct stat st;
      if (::stat(path.c_str(), &st) == 0) {
        absl::Duration age = clock_->WallNow() - absl::TimeFromTimespec(st.st_mtim);
        file_changed_at_[path] = now_ - std::max(age, absl::ZeroDuration());
      }
    }
    const std::string dir = os::DirName(path);
    if (polling_ || dir_watches_.contains(dir)) continue;
    // Appends (IN_MODIFY), touch (IN_ATTRIB), atomic renames (IN_MOVED_TO),
    // rewrites (IN_CLOSE_WRITE).
    int wd = ::inotify_add_watch(inotify_fd_, dir.c_str(),
                                 IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE);
    if (wd < 0 && errno == ENOSPC) {
      StartPolling("inotify: fs.inotify.max_user_watches is used up");
      continue;
    }
    if (wd < 0) {
      rewatch_ = true;  // No such directory yet: try again at the next change.
      continue;
    }
    dir_watches_[dir] = wd;
    watched_dirs_[wd] = dir;
  }
}

void Supervisor::OnWatchedFileChanged(const std::string& path, uint32_t mask) {
  file_changed_at_[path] = now_;
  const bool complete = (mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) != 0;
  for (const auto& m : modules_) m->OnFileChanged(path, complete);
}

void Supervisor::StartPolling(const std::string& why) {
  if (polling_) return;
  polling_ = true;
  rescan_due_ = clock_->MonotonicNow();
  Emit("fleetd", "inotify_unavailable",
       absl::StrCat(why, ": the stop flag, the work-bus, metrics, answer, log and heartbeat "
                         "files are looked at every ",
                    absl::FormatDuration(kRescanEvery),
                    " instead of as they change (raise the limit and restart fleetd to "
                    "watch them again)"));
}

void Supervisor::Rescan() {
  rescan_due_ = now_ + kRescanEvery;
  CheckStopFlag();
  for (const std::string& path : watched_files_) {
    std::optional<FileStamp> stamp;
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
      stamp = FileStamp{absl::ToUnixNanos(absl::TimeFromTimespec(st.st_mtim)),
                        static_cast<int64_t>(st.st_size), static_cast<uint64_t>(st.st_ino)};
    }
    auto [it, first] = polled_files_.try_emplace(path, stamp);
    if (first || it->second == stamp) continue;
    it->second = stamp;
    // Changed, or (re)created: as if inotify had said the writer finished.
    if (stamp.has_value()) OnWatchedFileChanged(path, IN_CLOSE_WRITE);
  }
}

}  // namespace fleet::supervisor
