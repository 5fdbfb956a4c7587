// Repo, catching up with the remote: fast-forward, rebase or merge, and
// conflicts resolved by the declared rules (never markers in state files).
#include <fcntl.h>
#include <git2.h>
#include <poll.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <optional>

#include "plugins/formats/json_merge.h"
#include "plugins/formats/state_file_check.h"
#include "plugins/sync/repo.h"
#include "plugins/sync/repo_git.h"
namespace fleet::plugins::sync {

using formats::Json;
using formats::MergeJson;
using formats::ParseJson;
using formats::StateFileError;
using formats::WriteJson;

GitStatus Repo::FastForward(const void* target_oid) {
  const git_oid* oid = static_cast<const git_oid*>(target_oid);
  Object target;
  int rc = git_object_lookup(target.out(), repo_, oid, GIT_OBJECT_COMMIT);
  if (rc != 0) return Fail(rc, "look up the remote commit");
  // A marker says a fast-forward is under way: killed between the checkout
  // and the ref update, the tree would hold the remote's files under the
  // old HEAD, and the next commit would take them for this instance's own
  // changes (stale versions of other instances' files). The next open
  // undoes it (UndoInterruptedOperation).
  char before_hex[GIT_OID_HEXSZ + 1] = "";
  git_oid before;
  if (git_reference_name_to_id(&before, repo_, "HEAD") == 0) {
    git_oid_tostr(before_hex, sizeof(before_hex), &before);
  }
  const std::string marker = std::string(git_repository_path(repo_)) + kFastForwardMarker;
  {
    char target_hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(target_hex, sizeof(target_hex), oid);
    std::ofstream out(marker, std::ios::trunc);
    out << before_hex << " " << target_hex << "\n";
  }
  git_checkout_options checkout = GIT_CHECKOUT_OPTIONS_INIT;
  checkout.checkout_strategy = GIT_CHECKOUT_SAFE;  // Never clobber uncommitted work.
  if ((rc = git_checkout_tree(repo_, target.p, &checkout)) != 0) {
    ::unlink(marker.c_str());  // Nothing was changed (SAFE refuses before writing).
    return Fail(rc, "check out");
  }
  const std::string name = LocalRef(branch_);
  Reference local, moved;
  rc = git_reference_lookup(local.out(), repo_, name.c_str());
  if (rc == GIT_ENOTFOUND) {
    rc = git_reference_create(moved.out(), repo_, name.c_str(), oid, 0, "fleet: fast-forward");
  } else if (rc == 0) {
    rc = git_reference_set_target(moved.out(), local.p, oid, "fleet: fast-forward");
  }
  if (rc != 0) return Fail(rc, "move " + branch_);
  if ((rc = git_repository_set_head(repo_, name.c_str())) != 0) return Fail(rc, "set HEAD");
  ::unlink(marker.c_str());
  return {};
}

GitStatus Repo::Rebase(const void* upstream_commit, PullResult* result) {
  auto* upstream = static_cast<const git_annotated_commit*>(upstream_commit);
  git_rebase_options options = GIT_REBASE_OPTIONS_INIT;
  options.checkout_options.checkout_strategy = GIT_CHECKOUT_SAFE;
  RebaseOp rebase;
  int rc = git_rebase_init(rebase.out(), repo_, nullptr, upstream, nullptr, &options);
  if (rc != 0) return Fail(rc, "start rebasing onto origin/" + branch_);
  Signature committer;
  git_signature_now(committer.out(), "fleet", "fleet@localhost");
  git_rebase_operation* operation = nullptr;
  while ((rc = git_rebase_next(&operation, rebase.p)) == 0) {
    Index index;
    git_repository_index(index.out(), repo_);
    if (git_index_has_conflicts(index.p)) {
      char onto[8];
      git_oid_tostr(onto, sizeof(onto), git_rebase_onto_id(rebase.p));
      GitStatus status;
      if (!ResolveConflicts(index.p, onto, /*merging=*/false, result, &status)) {
        // Nothing is lost: abort puts the branch and work tree back as they were.
        AbortRebase(rebase.p);
        result->resolved.clear();
        result->kind = PullResult::kConflict;
        return status;
      }
    }
    git_oid id;
    rc = git_rebase_commit(&id, rebase.p, nullptr, committer.p, nullptr, nullptr);
    if (rc == GIT_EAPPLIED) continue;  // Already upstream: nothing to replay.
    if (rc != 0) {
      GitStatus status = Fail(rc, "replay a local commit");
      AbortRebase(rebase.p);
      return status;
    }
    ++result->rebased_commits;
  }
  if (rc != GIT_ITEROVER) {
    GitStatus status = Fail(rc, "rebase");
    AbortRebase(rebase.p);
    return status;
  }
  if ((rc = git_rebase_finish(rebase.p, committer.p)) != 0) {
    GitStatus status = Fail(rc, "finish the rebase");
    AbortRebase(rebase.p);
    return status;
  }
  result->kind = PullResult::kRebased;
  return {};
}

void Repo::AbortRebase(git_rebase* rebase) {
  // Someone else's short lock (a `git gc` packing refs holds HEAD.lock) must
  // not leave the rebase half done: that would look, next time, like a
  // process killed mid-sync. A few tries over a second, then it is left to
  // UndoInterruptedOperation.
  for (int attempt = 0; attempt < 20; ++attempt) {
    if (git_rebase_abort(rebase) == 0) return;
    ::poll(nullptr, 0, 50);
  }
}

GitStatus Repo::Merge(const void* upstream_commit, PullResult* result) {
  auto* upstream = static_cast<const git_annotated_commit*>(upstream_commit);
  git_merge_options merge = GIT_MERGE_OPTIONS_INIT;
  git_checkout_options checkout = GIT_CHECKOUT_OPTIONS_INIT;
  checkout.checkout_strategy = GIT_CHECKOUT_SAFE | GIT_CHECKOUT_ALLOW_CONFLICTS;
  const git_annotated_commit* heads[] = {upstream};
  int rc = git_merge(repo_, heads, 1, &merge, &checkout);
  if (rc != 0) {
    GitStatus status = Fail(rc, "merge origin/" + branch_);
    AbandonMerge();
    return status;
  }
  Index index;
  if ((rc = git_repository_index(index.out(), repo_)) != 0) {
    AbandonMerge();
    return Fail(rc, "open the index");
  }
  if (git_index_has_conflicts(index.p)) {
    char onto[8];
    git_oid_tostr(onto, sizeof(onto), git_annotated_commit_id(upstream));
    GitStatus status;
    if (!ResolveConflicts(index.p, onto, /*merging=*/true, result, &status)) {
      AbandonMerge();  // The tree was committed before the pull: nothing is lost.
      result->resolved.clear();
      result->kind = PullResult::kConflict;
      return status;
    }
  }
  git_oid tree_id, commit_id;
  Tree tree;
  Commit local, theirs;
  Signature who;
  Object head;
  if ((rc = git_index_write_tree(&tree_id, index.p)) != 0 ||
      (rc = git_tree_lookup(tree.out(), repo_, &tree_id)) != 0 ||
      (rc = git_revparse_single(head.out(), repo_, "HEAD")) != 0 ||
      (rc = git_commit_lookup(local.out(), repo_, git_object_id(head.p))) != 0 ||
      (rc = git_commit_lookup(theirs.out(), repo_, git_annotated_commit_id(upstream))) != 0 ||
      (rc = git_signature_now(who.out(), "fleet", "fleet@localhost")) != 0) {
    GitStatus status = Fail(rc, "prepare the merge commit");
    AbandonMerge();
    return status;
  }
  const git_commit* parents[] = {local.p, theirs.p};
  rc = git_commit_create(&commit_id, repo_, "HEAD", who.p, who.p, nullptr,
                         ("fleet: merge origin/" + branch_).c_str(), tree.p, 2, parents);
  if (rc != 0) {
    GitStatus status = Fail(rc, "commit the merge");
    AbandonMerge();
    return status;
  }
  git_index_write(index.p);
  git_repository_state_cleanup(repo_);
  result->kind = PullResult::kMerged;
  return {};
}

bool Repo::ResolveConflicts(void* index_ptr, const std::string& onto, bool merging,
                            PullResult* result, GitStatus* status) {
  git_index* index = static_cast<git_index*>(index_ptr);
  // Copy out first: resolving changes the index under the iterator.
  struct Conflict {
    std::string path;
    std::optional<git_oid> base, upstream, local;
  };
  std::vector<Conflict> conflicts;
  git_index_conflict_iterator* it = nullptr;
  const git_index_entry *ancestor, *ours, *theirs;
  if (git_index_conflict_iterator_new(&it, index) == 0) {
    while (git_index_conflict_next(&ancestor, &ours, &theirs, it) == 0) {
      const git_index_entry* any = ours != nullptr ? ours : theirs != nullptr ? theirs : ancestor;
      Conflict c{any->path, {}, {}, {}};
      // In a rebase libgit2's "ours" is the upstream being built on and
      // "theirs" the local commit being replayed; a merge is the other way.
      const git_index_entry* upstream = merging ? theirs : ours;
      const git_index_entry* local = merging ? ours : theirs;
      if (ancestor != nullptr) c.base = ancestor->id;
      if (upstream != nullptr) c.upstream = upstream->id;
      if (local != nullptr) c.local = local->id;
      conflicts.push_back(c);
    }
    git_index_conflict_iterator_free(it);
  }
  bool covered = true;
  for (const Conflict& c : conflicts) {
    result->conflicts.push_back(c.path);
    covered = covered && RuleFor(rules_, c.path) != nullptr;
  }
  if (!covered) return false;
  auto text = [this](const std::optional<git_oid>& id) -> std::optional<std::string> {
    if (!id.has_value()) return std::nullopt;  // Deleted on that side.
    git_blob* blob = nullptr;
    if (git_blob_lookup(&blob, repo_, &*id) != 0) return std::nullopt;
    std::string out(static_cast<const char*>(git_blob_rawcontent(blob)),
                    static_cast<size_t>(git_blob_rawsize(blob)));
    git_blob_free(blob);
    return out;
  };
  const std::string workdir = git_repository_workdir(repo_);
  auto put = [&](const std::string& path, const std::optional<std::string>& content) -> bool {
    const std::string file = workdir + path;
    int rc;
    if (content.has_value()) {
      std::ofstream out(file, std::ios::binary | std::ios::trunc);
      out << *content;
      if (!out) {
        *status = {"write " + file + " while resolving a conflict"};
        return false;
      }
      out.close();
      rc = git_index_add_bypath(index, path.c_str());
    } else {
      ::unlink(file.c_str());
      rc = git_index_remove_bypath(index, path.c_str());
    }
    if (rc != 0) *status = Fail(rc, "stage the resolution of " + path);
    return rc == 0;
  };
  for (const Conflict& c : conflicts) {
    const MergeRule* rule = RuleFor(rules_, c.path);
    std::optional<std::string> local = text(c.local), upstream = text(c.upstream);
    std::optional<std::string> merged;
    switch (rule->strategy) {
      case Strategy::kOurs:
        merged = local;
        break;
      case Strategy::kTheirs:
        merged = upstream;
        break;
      case Strategy::kUnion:
        merged = UnionMerge(text(c.base).value_or(""), local.value_or(""), upstream.value_or(""));
        break;
      case Strategy::kKeepBoth:
        merged = local;
        if (upstream.has_value() && !put(c.path + ".theirs-" + onto, upstream)) return false;
        break;
      case Strategy::kJsonOurs:
      case Strategy::kJsonTheirs: {
        const bool ours_wins = rule->strategy == Strategy::kJsonOurs;
        if (!local.has_value() || !upstream.has_value()) {
          merged = ours_wins ? local : upstream;  // Deleted on one side.
          break;
        }
        std::string error;
        std::optional<std::string> base_text = text(c.base);
        std::optional<Json> base_json =
            base_text.has_value() ? ParseJson(*base_text, &error) : std::nullopt;
        std::optional<Json> ours_json = ParseJson(*local, &error);
        std::optional<Json> theirs_json = ParseJson(*upstream, &error);
        if (!ours_json.has_value() || !theirs_json.has_value()) {
          result->refused.push_back(c.path + ": not JSON on both sides (" + error + ")");
          return false;
        }
        merged = WriteJson(MergeJson(base_json.has_value() ? &*base_json : nullptr, *ours_json,
                                     *theirs_json, ours_wins));
        break;
      }
    }
    // A state file that no longer parses is never committed: refuse the merge.
    if (merged.has_value()) {
      if (std::string error = StateFileError(c.path, *merged); !error.empty()) {
        result->refused.push_back(c.path + ": the merged file is " + error);
        return false;
      }
    }
    git_index_conflict_remove(index, c.path.c_str());
    if (!put(c.path, merged)) return false;
    result->resolved.push_back(c.path);
  }
  result->conflicts.clear();
  int rc = git_index_write(index);
  if (rc != 0) {
    *status = Fail(rc, "write the index");
    return false;
  }
  return true;
}

}  // namespace fleet::plugins::sync
