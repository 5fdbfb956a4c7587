#include "plugins/sync/publish.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

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
  GitStatus status =
      repo.CommitAll(options.author, options.email, options.message, &result.committed);
  if (!status.ok()) {
    result.error = status.error;
    result.remote_unreachable = status.remote;
    return result;
  }
  if (repo.Ahead() == 0 && !result.committed) {
    result.pushed = true;  // Nothing of ours is missing from the remote.
    return result;
  }
  for (int attempt = 1; attempt <= options.max_attempts; ++attempt) {
    if (attempt > 1) (options.wait ? options.wait : DefaultWait)(attempt);
    ++result.attempts;
    bool rejected = false;
    status = repo.Push(&rejected);
    if (!status.ok()) {
      result.error = status.error;
      result.remote_unreachable = status.remote;
      return result;
    }
    if (!rejected) {
      result.pushed = true;
      return result;
    }
    PullResult pulled;
    status = repo.Pull(&pulled);
    if (!status.ok()) {
      result.error = status.error;
      result.remote_unreachable = status.remote;
      return result;
    }
    result.resolved.insert(result.resolved.end(), pulled.resolved.begin(), pulled.resolved.end());
    if (pulled.kind == PullResult::kConflict) {
      result.unresolved = pulled.conflicts;
      result.error = "conflict no rule resolves; the commit is kept locally";
      for (const std::string& why : pulled.refused) result.error += "; " + why;
      return result;
    }
  }
  result.error = "the remote kept refusing after " + std::to_string(options.max_attempts) +
                 " pushes; the commit is kept locally";
  return result;
}

}  // namespace fleet::plugins::sync
