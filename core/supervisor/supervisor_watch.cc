// Watched files (core/supervisor/file_watch.h): what modules ask to be
// watched (metrics files, health's log and heartbeat paths, answers) and the
// stop flag. Loop thread only.
#include <errno.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/defaults/defaults.h"
#include "core/os/files.h"
#include "core/supervisor/supervisor.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {

void Supervisor::WatchFiles() {
  // Runs after every state change; the set rarely moves.
  if (!state_.rewatch && !watch_.wants_retry(state_.now)) return;
  state_.rewatch = false;
  std::vector<std::string> watched = {defaults::StopFlag(options_.run_dir)};
  for (const auto& m : modules_) m->WatchedFiles(&watched);
  watch_.Set(std::move(watched), state_.now);
}

void Supervisor::OnWatchedFileChanged(const std::string& path, bool complete) {
  if (path == defaults::StopFlag(options_.run_dir)) {
    CheckStopFlag();
    return;
  }
  for (const auto& m : modules_) m->OnFileChanged(path, complete);
}

}  // namespace fleet::supervisor
