// A work tree's repository checked and repaired: damage found (unreadable
// objects and references), what is committed but not pushed, an operation
// a killed process left half done undone, stale lock files removed. Works
// on a repository a Repo owns (repo.h); not thread-safe.
#ifndef FLEET_PLUGINS_SYNC_REPO_REPAIR_H_
#define FLEET_PLUGINS_SYNC_REPO_REPAIR_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "plugins/sync/git_status.h"

struct git_odb;
struct git_oid;
struct git_repository;

namespace fleet::plugins::sync {

class RepoRepair {
 public:
  // repo stays its owner's; branch: the fleet's branch.
  RepoRepair(git_repository* repo, std::string branch) : repo_(repo), branch_(std::move(branch)) {}

  // Reads what every operation needs (index, HEAD, its commit and tree): an
  // error means the repository is damaged (a killed process, a bad disk).
  // deep also reads every object the repository stores (a truncated pack
  // file, a lost loose object) and checks that every reference, and every
  // blob the index and HEAD's tree name, exists (a remote-tracking reference
  // that names a lost object is dropped, to be fetched again): linear in
  // the repository's size, for after an operation failed for a local reason.
  GitStatus Verify(bool deep = false);
  // Local commits the remote branch does not have, newest first, as
  // "1a2b3c4 message"; reading stops at the first commit that cannot be
  // read (*unreadable set). For what a rebuild carries over.
  std::vector<std::string> UnpushedCommits(bool* unreadable);
  // A rebase or merge left half done by a killed process (fleetd's death
  // mid-sync) is undone: the branch is back where the operation began, and
  // files written into the tree since (by a worker that outlived fleetd)
  // are kept. Returns what was done, "" when nothing was in progress.
  std::string UndoInterruptedOperation();
  // Removes Git lock files (index.lock, HEAD.lock, the branch's ref lock)
  // that no process has open: leftovers of a process killed mid-write, which
  // would otherwise fail every later operation. Returns what it removed. A
  // lock someone holds is left alone.
  std::vector<std::string> ClearStaleLocks();
  // Puts HEAD, index and work tree back to the last commit (reset --hard).
  void ResetToHead();

 private:
  // UnpushedCommits could read every one of them.
  bool UnpushedReadable();
  // Reads every object the object database lists.
  GitStatus VerifyObjects(git_odb* odb);
  // Every reference names an object the repository has; a remote-tracking
  // one that does not is deleted (the next fetch brings it back).
  GitStatus VerifyReferences(git_odb* odb);
  // The remote-tracking commit tip, its tree, and its history (first
  // parents, up to a bound) are all here.
  bool RemoteHistoryComplete(git_odb* odb, const git_oid* tip);
  // Paths that differ between HEAD's tree and the work tree (untracked
  // included), with their content; nullopt for a deleted file.
  std::map<std::string, std::optional<std::string>> ChangesSinceHead();
  // After an undo: of the files in `written`, those whose content matches
  // none of tree_specs (revs like "HEAD^{tree}") are new files put back in
  // place, or changed tracked files set aside under .git/fleet-undone/.
  struct PutBackResult {
    int kept = 0;
    int set_aside = 0;
    std::string aside_dir;
    std::string Describe() const;
  };
  PutBackResult PutBack(const std::map<std::string, std::optional<std::string>>& written,
                        const std::vector<std::string>& tree_specs);

  git_repository* repo_;
  std::string branch_;
};

}  // namespace fleet::plugins::sync

#endif  // FLEET_PLUGINS_SYNC_REPO_REPAIR_H_
