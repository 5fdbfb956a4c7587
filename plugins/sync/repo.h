// One instance's Git work tree of the fleet's shared state, through libgit2
// (no git binary): clone or open, commit everything, fetch and catch up
// (fast-forward, or rebase local commits onto what others pushed), push and
// tell a rejected push from a failed one. Standard library only, like any
// plugin. Not thread-safe (libgit2 objects are single-thread).
#ifndef FLEET_PLUGINS_SYNC_REPO_H_
#define FLEET_PLUGINS_SYNC_REPO_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "plugins/sync/git_status.h"
#include "plugins/sync/merge_rules.h"
#include "plugins/sync/repo_repair.h"

struct git_repository;

namespace fleet::plugins::sync {

struct PullResult {
  enum Kind { kUpToDate, kFastForward, kRebased, kMerged, kConflict } kind = kUpToDate;
  // kConflict: the paths both sides changed. Local commits are kept, the
  // work tree is as before the pull.
  std::vector<std::string> conflicts;
  // Paths both sides changed that a merge rule resolved, and the strategy
  // that did (StrategyName), in the same order.
  std::vector<std::string> resolved;
  std::vector<std::string> resolved_by;
  // Why a rule's merge was refused ("state.json: the merged file is not
  // valid JSON ..."); the pull then ends in kConflict.
  std::vector<std::string> refused;
  int rebased_commits = 0;
};

class Repo {
 public:
  // Opens work_tree, cloning `remote` (a path or URL) into it when it holds no
  // repository yet. An empty remote is fine: the first commit starts `branch`.
  static std::unique_ptr<Repo> OpenOrClone(const std::string& work_tree, const std::string& remote,
                                           const std::string& branch, GitStatus* status);
  ~Repo();
  Repo(const Repo&) = delete;
  Repo& operator=(const Repo&) = delete;

  // Checks and repairs (repo_repair.h).
  GitStatus Verify(bool deep = false) { return Repair().Verify(deep); }
  std::vector<std::string> UnpushedCommits(bool* unreadable) {
    return Repair().UnpushedCommits(unreadable);
  }
  std::string UndoInterruptedOperation() { return Repair().UndoInterruptedOperation(); }
  std::vector<std::string> ClearStaleLocks() { return Repair().ClearStaleLocks(); }
  // Stages every change (new, modified, deleted) and commits it. *committed
  // is false when there was nothing to commit.
  GitStatus CommitAll(const std::string& author, const std::string& email,
                      const std::string& message, bool* committed);
  // How conflicting paths are resolved while catching up (default: none, so
  // any conflict aborts the rebase and is reported).
  void SetMergeRules(std::vector<MergeRule> rules) { rules_ = std::move(rules); }
  // How Pull catches up when both sides have commits: replay the local ones
  // on top (rebase, the default: a linear history) or make a merge commit
  // (keeps every commit as it was made).
  void SetMergeInsteadOfRebase(bool merge) { merge_ = merge; }
  // Fetches and catches up with the remote branch: fast-forward, or replay
  // local commits on top, resolving conflicts by rule. A conflict no rule
  // covers leaves everything as it was and lists the paths.
  GitStatus Pull(PullResult* result);
  // Pushes the branch. *rejected: the remote refused (someone pushed first,
  // or a hook said no); pull and try again. *refusal (optional): why, with
  // what the remote's hooks printed.
  GitStatus Push(bool* rejected, std::string* refusal = nullptr);
  // Local commits the remote branch does not have yet; -1 when that cannot
  // be told (an object is missing): never 0 unless it is known.
  int Ahead();
  // Time spent waiting for a local remote's push lock, in total.
  double push_lock_wait_ms() const { return push_lock_wait_ms_; }
  // The commit HEAD points at (hex), or "" before the first commit.
  std::string Head();

 private:
  Repo(git_repository* repo, std::string branch) : repo_(repo), branch_(std::move(branch)) {}
  RepoRepair Repair() { return RepoRepair(repo_, branch_); }
  // Checks out a commit (never over uncommitted work) and moves the branch
  // to it: a fast-forward, or the finished result of a rebase or merge.
  // `why` goes into the reflog ("fleet: fast-forward").
  GitStatus MoveBranchTo(const void* target_oid, const std::string& why);
  // Both work in the object database only and touch the work tree once,
  // through MoveBranchTo, with the resolved result.
  GitStatus Rebase(const void* upstream, PullResult* result);
  GitStatus Merge(const void* upstream, PullResult* result);
  // kCatchingUpRef names commit (and so its tree and parents) until
  // released: what a rebase or merge made is never garbage to `git gc`.
  GitStatus HoldWhileCatchingUp(const void* commit_oid);
  void ReleaseCatchingUp();
  // Resolves every conflict in an in-memory index by rule, staging the
  // results as blobs; false when some path has no rule.
  // merging: the index comes from a merge ("ours" = local), not a rebase
  // ("ours" = upstream).
  bool ResolveConflicts(void* index, const std::string& onto_hex, bool merging, PullResult* result,
                        GitStatus* status);

  git_repository* repo_;
  std::string branch_;
  std::vector<MergeRule> rules_;
  bool merge_ = false;
  double push_lock_wait_ms_ = 0;
};

}  // namespace fleet::plugins::sync

#endif  // FLEET_PLUGINS_SYNC_REPO_H_
