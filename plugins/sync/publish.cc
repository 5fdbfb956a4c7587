#include "plugins/sync/publish.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <random>
#include <thread>

#include "plugins/sync/file_lock.h"

namespace fleet::plugins::sync {
namespace {

void DefaultWait(int attempt) {
  thread_local std::mt19937 rng(std::random_device{}());
  const int base_ms = std::min(1000, 10 << std::min(attempt - 2, 7));
  // Full jitter: writers that collided should not collide again in step.
  std::uniform_int_distribution<int> jitter(base_ms / 2, base_ms);
  std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng)));
}

}  // namespace

PublishResult Publish(Repo& repo, const PublishOptions& options) {
  PublishResult result;
  // Records a failed step in the result; true when it failed.
  auto failed = [&result](const GitStatus& status) {
    if (status.ok()) return false;
    result.error = status.error;
    result.remote_unreachable = status.remote;
    return true;
  };
  // Fetches and replays our commits on what others pushed; false (result
  // says why) when that cannot be done.
  auto catch_up = [&]() {
    PullResult pulled;
    if (failed(repo.Pull(&pulled))) return false;
    result.resolved.insert(result.resolved.end(), pulled.resolved.begin(), pulled.resolved.end());
    result.resolved_by.insert(result.resolved_by.end(), pulled.resolved_by.begin(),
                              pulled.resolved_by.end());
    if (pulled.kind == PullResult::kConflict) {
      result.unresolved = pulled.conflicts;
      result.error = "conflict no rule resolves; the commit is kept locally";
      for (const std::string& why : pulled.refused) result.error += "; " + why;
      return false;
    }
    return true;
  };
  if (failed(repo.CommitAll(options.author, options.email, options.message, &result.committed))) {
    return result;
  }
  // Only a count known to be 0: one that cannot be told (-1) is pushed.
  if (repo.Ahead() == 0 && !result.committed) {
    result.pushed = true;  // Nothing of ours is missing from the remote.
    return result;
  }
  // The commit is local work and needs no lock; catching up and pushing do.
  // Under the shared lock no writer of ours pushes meanwhile. When we had to
  // wait for it, others just pushed: catch up first, so the push goes
  // through at once instead of being rejected.
  std::unique_ptr<FileLock> lock;
  if (!options.lock_path.empty()) {
    lock = std::make_unique<FileLock>(options.lock_path, 120000);
    result.lock_wait_ms = lock->waited_ms();
    if (!lock->held()) {
      result.error = lock->error() + "; the commit is kept locally";
      return result;
    }
    if (lock->contended() && !catch_up()) return result;
  }
  std::string refusal;  // The remote's last word, for the operator.
  for (int attempt = 1; attempt <= options.max_attempts; ++attempt) {
    if (attempt > 1) (options.wait ? options.wait : DefaultWait)(attempt);
    ++result.attempts;
    bool rejected = false;
    if (failed(repo.Push(&rejected, &refusal))) return result;
    if (!rejected) {
      result.pushed = true;
      return result;
    }
    if (!catch_up()) return result;
  }
  result.error = "the remote kept refusing after " + std::to_string(options.max_attempts) +
                 " pushes (" + refusal + "); the commit is kept locally";
  return result;
}

}  // namespace fleet::plugins::sync
