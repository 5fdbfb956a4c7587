// fleet.sync.git: the fleet's shared state as a Git repository, one work tree
// per instance. PULL catches a work tree up (cloning it on first use);
// PUBLISH commits and pushes, catching up by the fleet's merge rules and
// retrying. Bad requests are refused with the reason; nothing is discarded.
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <chrono>
#include <memory>
#include <string>

#include "plugins/sdk/sdk.h"
#include "plugins/sync/bounded_stream.h"
#include "plugins/sync/publish.h"
#include "plugins/sync/repo.h"
#include "proto/fleet/plugin/v1/sync.pb.h"

namespace fleet::plugins::sync {
namespace {

namespace fs = std::filesystem;
using fleet::plugin::v1::SyncRequest;
using fleet::plugin::v1::SyncResult;

const char* PullName(PullResult::Kind kind) {
  switch (kind) {
    case PullResult::kUpToDate:
      return "up-to-date";
    case PullResult::kFastForward:
      return "fast-forward";
    case PullResult::kRebased:
      return "rebased";
    case PullResult::kMerged:
      return "merged";
    case PullResult::kConflict:
      return "conflict";
  }
  return "?";
}

class GitSync {
 public:
  static std::unique_ptr<GitSync> Create(const fleet::sdk::Host&, const std::string&,
                                         std::string*) {
    return std::make_unique<GitSync>();
  }

  fleet::sdk::Outcome Sync(const SyncRequest& request, SyncResult* result, std::string* error) {
    using fleet::sdk::Outcome;
    if (request.work_tree().empty() || request.work_tree()[0] != '/') {
      *error = "work_tree must be an absolute path, not '" + request.work_tree() + "'";
      return Outcome::kBadRequest;
    }
    if (request.remote().empty() || request.branch().empty()) {
      *error = "remote and branch are required";
      return Outcome::kBadRequest;
    }
    std::vector<MergeRule> rules;
    for (int i = 0; i < request.rules_size(); ++i) {
      std::optional<Strategy> strategy = ParseStrategy(request.rules(i).strategy());
      if (!strategy.has_value()) {
        *error = "merge rule " + std::to_string(i + 1) + ": unknown strategy '" +
                 request.rules(i).strategy() + "'";
        return Outcome::kBadRequest;
      }
      rules.push_back({request.rules(i).glob(), *strategy});
    }
    NetworkLimits limits(std::chrono::milliseconds(request.network_timeout_ms()),
                         std::chrono::milliseconds(request.network_budget_ms()));
    Repo* repo = Open(request, result);
    if (repo == nullptr) return Outcome::kOk;  // result->error says why.
    repo->SetMergeRules(std::move(rules));
    repo->SetMergeInsteadOfRebase(request.merge());
    switch (request.op()) {
      case SyncRequest::OP_PULL: {
        // Work the instance has not committed would block the checkout (or
        // be overwritten): it becomes a local commit first, and is rebased
        // onto what others pushed like any other (`git pull --rebase` with
        // autostash, minus the stash that can fail to pop).
        const std::string author = request.author().empty() ? "fleet" : request.author();
        bool committed = false;
        GitStatus status =
            repo->CommitAll(author, author + "@fleet.local",
                            "fleet: uncommitted state of " + author + " before a pull", &committed);
        result->set_committed(committed);
        PullResult pulled;
        if (status.ok()) status = repo->Pull(&pulled);
        result->set_error(status.error);
        result->set_remote_unreachable(status.remote);
        result->set_pull(PullName(pulled.kind));
        result->set_ok(status.ok() && pulled.kind != PullResult::kConflict);
        for (const auto& p : pulled.resolved) result->add_resolved(p);
        for (const auto& p : pulled.conflicts) result->add_unresolved(p);
        for (const auto& p : pulled.refused) result->add_refused(p);
        break;
      }
      case SyncRequest::OP_PUBLISH: {
        PublishOptions options;
        options.author = request.author().empty() ? "fleet" : request.author();
        options.email = options.author + "@fleet.local";
        options.message =
            request.message().empty() ? "fleet: state from " + options.author : request.message();
        options.lock_path = request.lock_path();
        if (request.max_attempts() > 0)
          options.max_attempts = static_cast<int>(request.max_attempts());
        const double lock_wait_before = repo->push_lock_wait_ms();
        PublishResult published = Publish(*repo, options);
        result->set_ok(published.pushed);
        result->set_committed(published.committed);
        result->set_attempts(static_cast<uint32_t>(published.attempts));
        result->set_error(published.error);
        result->set_remote_unreachable(published.remote_unreachable);
        result->set_lock_wait_ms(published.lock_wait_ms + repo->push_lock_wait_ms() -
                                 lock_wait_before);
        for (const auto& p : published.resolved) result->add_resolved(p);
        for (const auto& p : published.unresolved) result->add_unresolved(p);
        break;
      }
      default:
        *error = "unknown sync op " + std::to_string(request.op());
        return Outcome::kBadRequest;
    }
    result->set_head(repo->Head());
    result->set_ahead(static_cast<uint32_t>(repo->Ahead()));
    if (!result->ok() && !result->remote_unreachable() && result->unresolved().empty() &&
        result->refused().empty()) {
      // A local failure: open (and verify) the repository afresh next time,
      // which rebuilds it if it is damaged.
      repos_.erase(request.work_tree());
    }
    return Outcome::kOk;
  }

 private:
  // A repository at tree/.git that belongs to this user (one owned by someone
  // else is never moved).
  static bool OwnedRepository(const std::string& tree) {
    struct stat st;
    return ::stat((tree + "/.git").c_str(), &st) == 0 && st.st_uid == ::geteuid();
  }

  // Copies every file under from (but .git) to the same place under to.
  static void CopyFilesBack(const std::string& from, const std::string& to, std::error_code* ec) {
    for (auto it = fs::recursive_directory_iterator(from, *ec);
         it != fs::recursive_directory_iterator(); it.increment(*ec)) {
      const fs::path rel = fs::relative(it->path(), from);
      if (rel.begin() != rel.end() && *rel.begin() == ".git") {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (it->is_directory()) {
        fs::create_directories(fs::path(to) / rel, *ec);
      } else if (it->is_regular_file() || it->is_symlink()) {
        fs::copy(it->path(), fs::path(to) / rel,
                 fs::copy_options::overwrite_existing | fs::copy_options::copy_symlinks, *ec);
      }
    }
  }

  // One Repo per work tree, opened (or cloned) on first use.
  Repo* Open(const SyncRequest& request, SyncResult* result) {
    auto it = repos_.find(request.work_tree());
    if (it != repos_.end()) return it->second.get();
    const std::string& tree = request.work_tree();
    GitStatus status;
    std::unique_ptr<Repo> repo =
        Repo::OpenOrClone(tree, request.remote(), request.branch(), &status);
    if (repo != nullptr && !(status = repo->Verify()).ok()) repo.reset();
    if (repo != nullptr) result->set_undone(repo->UndoInterruptedOperation());
    if (repo == nullptr && !status.remote && OwnedRepository(tree)) {
      // Damaged: moved aside (never deleted), cloned again, and its files
      // copied back over the fresh clone, so what the instance had (its
      // unpushed work included) goes out with the next publish.
      const std::string aside = tree + ".damaged-" + std::to_string(::time(nullptr));
      std::error_code ec;
      fs::rename(tree, aside, ec);
      if (ec) {
        status.error += "; the damaged work tree cannot be moved aside: " + ec.message();
      } else {
        repo = Repo::OpenOrClone(tree, request.remote(), request.branch(), &status);
        if (repo != nullptr) {
          CopyFilesBack(aside, tree, &ec);
          result->set_rebuilt_from(aside);
          result->set_rebuild_reason(status.error.empty() ? "damaged" : status.error);
        }
      }
    }
    if (repo == nullptr) {
      result->set_ok(false);
      result->set_error(status.error);
      result->set_remote_unreachable(status.remote);
      return nullptr;
    }
    return (repos_[request.work_tree()] = std::move(repo)).get();
  }

  std::map<std::string, std::unique_ptr<Repo>> repos_;
};

}  // namespace
}  // namespace fleet::plugins::sync

FLEET_SYNC_PLUGIN(fleet::plugins::sync::GitSync, "fleet.sync.git", "0.1.0")
