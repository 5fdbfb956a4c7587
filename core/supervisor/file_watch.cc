#include "core/supervisor/file_watch.h"

#include <errno.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/log/log.h"
#include "core/os/files.h"

namespace fleet::supervisor {
namespace {

// Without inotify, how often watched files are looked at.
constexpr absl::Duration kRescanEvery = absl::Seconds(1);
// Appends (IN_MODIFY), touch (IN_ATTRIB), atomic renames (IN_MOVED_TO),
// rewrites (IN_CLOSE_WRITE), new files (IN_CREATE).
constexpr uint32_t kMask = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE;

}  // namespace

FileWatch::FileWatch(os::Clock* clock, OnChange on_change,
                     std::function<void(const std::string&)> on_polling)
    : clock_(clock), on_change_(std::move(on_change)), on_polling_(std::move(on_polling)) {}

FileWatch::~FileWatch() {
  if (fd_ >= 0) ::close(fd_);
}

void FileWatch::Init() {
  fd_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd_ < 0) {
    StartPolling(absl::StrCat("inotify_init1: ", strerror(errno),
                              " (fs.inotify.max_user_instances is used up)"),
                 clock_->MonotonicNow());
  }
}

void FileWatch::StartPolling(const std::string& why, os::MonoTime now) {
  if (polling_) return;
  polling_ = true;
  rescan_due_ = now;
  on_polling_(why);
}

void FileWatch::Set(std::vector<std::string> paths, os::MonoTime now) {
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  paths_ = std::move(paths);
  retry_ = false;
  for (const std::string& path : paths_) {
    if (!changed_at_.contains(path)) {
      // First sight: place its mtime on the monotonic clock, once. From here
      // on only a change moves it, so a wall-clock jump changes nothing.
      struct stat st;
      if (::lstat(path.c_str(), &st) == 0) {
        absl::Duration age = clock_->WallNow() - absl::TimeFromTimespec(st.st_mtim);
        changed_at_[path] = now - std::max(age, absl::ZeroDuration());
      }
    }
    const std::string dir = os::DirName(path);
    if (polling_ || watches_.contains(dir)) continue;
    int wd = ::inotify_add_watch(fd_, dir.c_str(), kMask);
    if (wd < 0 && errno == ENOSPC) {
      StartPolling("inotify: fs.inotify.max_user_watches is used up", now);
      continue;
    }
    if (wd < 0) {
      retry_ = true;  // No such directory yet.
      retry_at_ = now + absl::Seconds(1);
      continue;
    }
    watches_[dir] = wd;
    dirs_[wd] = dir;
  }
}

void FileWatch::Changed(const std::string& path, bool complete, os::MonoTime now) {
  changed_at_[path] = now;
  on_change_(path, complete);
}

void FileWatch::OnReadable(os::MonoTime now) {
  alignas(inotify_event) char buffer[4096];
  bool overflow = false;
  ssize_t n;
  while ((n = ::read(fd_, buffer, sizeof(buffer))) > 0) {
    for (char* p = buffer; p < buffer + n;) {
      auto* event = reinterpret_cast<inotify_event*>(p);
      if (event->mask & IN_Q_OVERFLOW) overflow = true;
      auto dir = dirs_.find(event->wd);
      if (dir != dirs_.end() && event->len > 0) {
        const std::string path = os::JoinPath(dir->second, event->name);
        // Events for the other files of a watched directory are not ours.
        if (std::binary_search(paths_.begin(), paths_.end(), path)) {
          Changed(path, (event->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) != 0, now);
        }
      }
      p += sizeof(inotify_event) + event->len;
    }
  }
  if (overflow) {
    // What changed meanwhile is unknown: each file's mtime says when it
    // last did (never moved back), and every file is looked at again.
    log::Warning("inotify queue overflowed: events were dropped; rescanning what they watch");
    for (const std::string& path : paths_) {
      struct stat st;
      if (::lstat(path.c_str(), &st) == 0) {
        const absl::Duration age = clock_->WallNow() - absl::TimeFromTimespec(st.st_mtim);
        const os::MonoTime at = now - std::max(age, absl::ZeroDuration());
        auto [it, fresh] = changed_at_.try_emplace(path, at);
        if (!fresh) it->second = std::max(it->second, at);
      }
      on_change_(path, true);
    }
  }
}

void FileWatch::Rescan(os::MonoTime now) {
  rescan_due_ = now + kRescanEvery;
  for (const std::string& path : paths_) {
    std::optional<Stamp> stamp;
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0) {
      stamp = Stamp{absl::ToUnixNanos(absl::TimeFromTimespec(st.st_mtim)),
                    static_cast<int64_t>(st.st_size), static_cast<uint64_t>(st.st_ino)};
    }
    auto [it, first] = stamps_.try_emplace(path, stamp);
    if (first || it->second == stamp) continue;
    it->second = stamp;
    // Changed, or (re)created: as if inotify had said the writer finished.
    if (stamp.has_value()) Changed(path, true, now);
  }
}

std::optional<os::MonoTime> FileWatch::ChangedAt(const std::string& path) const {
  auto it = changed_at_.find(path);
  if (it == changed_at_.end()) return std::nullopt;
  return it->second;
}

}  // namespace fleet::supervisor
