// fleet.sync.git: the fleet's shared state as a Git repository, one work tree
// per instance. PULL catches a work tree up (cloning it on first use);
// PUBLISH commits and pushes, catching up by the fleet's merge rules and
// retrying. Bad requests are refused with the reason; nothing is discarded.
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
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
    if (request.op() != SyncRequest::OP_PULL && request.op() != SyncRequest::OP_PUBLISH) {
      *error = "unknown sync op " + std::to_string(request.op());
      return Outcome::kBadRequest;
    }
    const std::string& tree = request.work_tree();
    Repo* repo = Open(request, result, /*deep=*/false);
    if (repo == nullptr) return Outcome::kOk;  // result->error says why.
    Run(*repo, request, rules, result);
    if (LocalFailure(*result)) {
      // A damaged repository (a truncated pack, a lost object) can pass the
      // quick check at open and fail every operation after it: look at
      // every object now, rebuild it if it is damaged, and try once more.
      // (A reference to a lost object is repaired in place.)
      repos_.erase(tree);
      SyncResult again;
      Repo* checked = Open(request, &again, /*deep=*/true);
      if (checked != nullptr) {
        if (again.undone().empty()) again.set_undone(result->undone());
        *result = std::move(again);
        Run(*checked, request, rules, result);
      }
    }
    if (result->ok() || result->remote_unreachable()) return Outcome::kOk;
    // Anything else (a conflict included) opens the repository afresh next
    // time: nothing libgit2 cached (its object database's view of packs a
    // `git gc` replaced) outlives a failure.
    repos_.erase(tree);
    return Outcome::kOk;
  }

 private:
  static bool LocalFailure(const SyncResult& r) {
    return !r.ok() && !r.remote_unreachable() && r.unresolved().empty() && r.refused().empty() &&
           !r.error().empty();
  }

  // Carries out request's op (PULL or PUBLISH) on repo into result.
  static void Run(Repo& repo, const SyncRequest& request, const std::vector<MergeRule>& rules,
                  SyncResult* result) {
    repo.SetMergeRules(rules);
    repo.SetMergeInsteadOfRebase(request.merge());
    if (request.op() == SyncRequest::OP_PULL) {
      // Work the instance has not committed would block the checkout (or
      // be overwritten): it becomes a local commit first, and is rebased
      // onto what others pushed like any other (`git pull --rebase` with
      // autostash, minus the stash that can fail to pop).
      const std::string author = request.author().empty() ? "fleet" : request.author();
      bool committed = false;
      GitStatus status =
          repo.CommitAll(author, author + "@fleet.local",
                         "fleet: uncommitted state of " + author + " before a pull", &committed);
      result->set_committed(committed);
      PullResult pulled;
      if (status.ok()) status = repo.Pull(&pulled);
      result->set_error(status.error);
      result->set_remote_unreachable(status.remote);
      result->set_pull(PullName(pulled.kind));
      result->set_ok(status.ok() && pulled.kind != PullResult::kConflict);
      for (const auto& p : pulled.resolved) result->add_resolved(p);
      for (const auto& s : pulled.resolved_by) result->add_resolved_by(s);
      for (const auto& p : pulled.conflicts) result->add_unresolved(p);
      for (const auto& p : pulled.refused) result->add_refused(p);
    } else {
      PublishOptions options;
      options.author = request.author().empty() ? "fleet" : request.author();
      options.email = options.author + "@fleet.local";
      options.message =
          request.message().empty() ? "fleet: state from " + options.author : request.message();
      options.lock_path = request.lock_path();
      if (request.max_attempts() > 0)
        options.max_attempts = static_cast<int>(request.max_attempts());
      const double lock_wait_before = repo.push_lock_wait_ms();
      PublishResult published = Publish(repo, options);
      result->set_ok(published.pushed);
      result->set_committed(published.committed);
      result->set_attempts(static_cast<uint32_t>(published.attempts));
      result->set_error(published.error);
      result->set_remote_unreachable(published.remote_unreachable);
      result->set_lock_wait_ms(published.lock_wait_ms + repo.push_lock_wait_ms() -
                               lock_wait_before);
      for (const auto& p : published.resolved) result->add_resolved(p);
      for (const auto& s : published.resolved_by) result->add_resolved_by(s);
      for (const auto& p : published.unresolved) result->add_unresolved(p);
    }
    result->set_head(repo.Head());
    const int ahead = repo.Ahead();
    result->set_ahead(static_cast<uint32_t>(std::max(ahead, 0)));
    if (ahead < 0 && result->ok()) {
      // What the remote has cannot be compared with what we have: not ok,
      // whatever the push said.
      result->set_ok(false);
      result->set_error("cannot compare the branch with origin/" + request.branch() +
                        " (an object is missing)");
    }
  }

  // What a rebuild carries over of the damaged repository's unpushed work.
  static std::string Carried(Repo* damaged) {
    if (damaged == nullptr) return "its unpushed commits could not be read";
    bool unreadable = false;
    std::vector<std::string> commits = damaged->UnpushedCommits(&unreadable);
    std::string out;
    if (commits.empty() && !unreadable) return "";
    if (!commits.empty()) {
      out = std::to_string(commits.size()) +
            (commits.size() == 1 ? " unpushed commit" : " unpushed commits") +
            " carried over as the files of the work tree (one commit at the next publish): ";
      for (size_t i = 0; i < commits.size() && i < 5; ++i) out += (i ? "; " : "") + commits[i];
      if (commits.size() > 5) out += "; ...";
    }
    if (unreadable) {
      out += out.empty() ? "its unpushed commits could not be read: their files are carried "
                           "over as the work tree had them, their history is only in the kept "
                           "copy"
                         : ". The commits before them could not be read (whatever of them was "
                           "not pushed is in the files, its history only in the kept copy)";
    }
    return out;
  }

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
  // deep: read every object (Repo::Verify) before trusting it.
  Repo* Open(const SyncRequest& request, SyncResult* result, bool deep) {
    auto it = repos_.find(request.work_tree());
    if (it != repos_.end()) return it->second.get();
    const std::string& tree = request.work_tree();
    GitStatus status;
    std::unique_ptr<Repo> repo =
        Repo::OpenOrClone(tree, request.remote(), request.branch(), &status);
    std::string carried;
    if (repo != nullptr && !(status = repo->Verify(deep)).ok()) {
      carried = Carried(repo.get());
      repo.reset();
    } else if (repo == nullptr) {
      carried = Carried(nullptr);
    }
    if (repo != nullptr) result->set_undone(repo->UndoInterruptedOperation());
    if (repo == nullptr && !status.remote && OwnedRepository(tree)) {
      // Damaged: moved aside (never deleted), cloned again, and its files
      // copied back over the fresh clone, so what the instance had (its
      // unpushed work included) goes out with the next publish.
      const std::string damage = status.error;
      // A fresh name even for two rebuilds in one second.
      std::string aside = tree + ".damaged-" + std::to_string(::time(nullptr));
      for (int n = 2; fs::exists(aside); ++n) {
        aside = tree + ".damaged-" + std::to_string(::time(nullptr)) + "-" + std::to_string(n);
      }
      std::error_code ec;
      fs::rename(tree, aside, ec);
      if (ec) {
        status.error += "; the damaged work tree cannot be moved aside: " + ec.message();
      } else {
        repo = Repo::OpenOrClone(tree, request.remote(), request.branch(), &status);
        if (repo != nullptr) {
          CopyFilesBack(aside, tree, &ec);
          result->set_rebuilt_from(aside);
          result->set_rebuild_reason(damage.empty() ? "damaged" : damage);
          result->set_rebuild_carried(carried);
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
