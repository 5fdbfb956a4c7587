// Commit this instance's changes and get them to the remote: push; when
// someone pushed first, catch up (rebase, conflicts by rule) and push again,
// with jittered waits, a bounded number of times. A commit that cannot be
// pushed stays local (nothing is lost) and the reason is returned.
#ifndef FLEET_PLUGINS_SYNC_PUBLISH_H_
#define FLEET_PLUGINS_SYNC_PUBLISH_H_

#include <functional>
#include <string>
#include <vector>

#include "plugins/sync/repo.h"

namespace fleet::plugins::sync {

struct PublishOptions {
  std::string author;  // "engine/N"
  std::string email;
  std::string message;
  int max_attempts = 8;
  // Waits before attempt n (n >= 2); default: jittered 10ms * 2^(n-2), capped
  // at 1s.
  std::function<void(int attempt)> wait;
  // A file whose flock is held from the commit to the push: every writer
  // that names the same file (a fleet's instances) catches up and pushes in
  // turn, so they never reject one another; only writers outside it can.
  // Empty: none.
  std::string lock_path;
};

struct PublishResult {
  bool committed = false;                // a new commit was made
  bool pushed = false;                   // the remote has every local commit
  int attempts = 0;                      // pushes tried
  std::vector<std::string> unresolved;   // conflicting paths no rule covered
  std::vector<std::string> resolved;     // conflicting paths resolved by rule
  std::vector<std::string> resolved_by;  // ... and the strategy of each
  std::string error;                     // why it stopped short
  bool remote_unreachable = false;       // ... because the remote could not be reached
  double lock_wait_ms = 0;               // waiting for lock_path
};

PublishResult Publish(Repo& repo, const PublishOptions& options);

}  // namespace fleet::plugins::sync

#endif  // FLEET_PLUGINS_SYNC_PUBLISH_H_
