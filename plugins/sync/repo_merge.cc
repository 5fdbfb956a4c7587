// Repo, catching up with the remote: fast-forward, rebase or merge, and
// conflicts resolved by the declared rules (never markers in state files).
//
// A rebase or merge is worked out in the object database only (libgit2's
// in-memory rebase, git_merge_commits): the work tree is touched once, by
// a checkout of the finished, resolved commit. Letting libgit2 write an
// unresolved conflict into the tree and abandon it afterwards would show a
// reader (a worker, a judge, a backup) `<<<<<<<` for that moment.
//
// The commits made meanwhile are named by a ref of their own
// (kCatchingUpRef) until the branch has moved to them: a `git gc
// --prune=now` in the work tree would otherwise take them for garbage, and
// the branch could end up naming a commit that is gone.
#include <git2.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
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

GitStatus Repo::MoveBranchTo(const void* target_oid, const std::string& why) {
  const git_oid* oid = static_cast<const git_oid*>(target_oid);
  Object target;
  int rc = git_object_lookup(target.out(), repo_, oid, GIT_OBJECT_COMMIT);
  if (rc != 0) return Fail(rc, "look up the commit for the " + why);
  // A marker says the branch is being moved: killed between the checkout
  // and the ref update, the tree would hold the new commit's files under
  // the old HEAD, and the next commit would take them for this instance's
  // own changes (stale versions of other instances' files). The next open
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
  const std::string message = "fleet: " + why;
  Reference local, moved;
  rc = git_reference_lookup(local.out(), repo_, name.c_str());
  if (rc == GIT_ENOTFOUND) {
    rc = git_reference_create(moved.out(), repo_, name.c_str(), oid, 0, message.c_str());
  } else if (rc == 0) {
    rc = git_reference_set_target(moved.out(), local.p, oid, message.c_str());
  }
  if (rc != 0) return Fail(rc, "move " + branch_);
  if ((rc = git_repository_set_head(repo_, name.c_str())) != 0) return Fail(rc, "set HEAD");
  ::unlink(marker.c_str());
  return {};
}

GitStatus Repo::HoldWhileCatchingUp(const void* commit_oid) {
  Reference held;
  const int rc = git_reference_create(held.out(), repo_, kCatchingUpRef,
                                      static_cast<const git_oid*>(commit_oid), /*force=*/1,
                                      "fleet: catching up");
  return rc == 0 ? GitStatus() : Fail(rc, "hold the commits being made");
}

void Repo::ReleaseCatchingUp() {
  Reference held;
  if (git_reference_lookup(held.out(), repo_, kCatchingUpRef) == 0) git_reference_delete(held.p);
}

GitStatus Repo::Rebase(const void* upstream_commit, PullResult* result) {
  auto* upstream = static_cast<const git_annotated_commit*>(upstream_commit);
  git_rebase_options options = GIT_REBASE_OPTIONS_INIT;
  options.inmemory = 1;  // Commits only; the branch moves once, at the end.
  RebaseOp rebase;
  int rc = git_rebase_init(rebase.out(), repo_, nullptr, upstream, nullptr, &options);
  if (rc != 0) return Fail(rc, "start rebasing onto origin/" + branch_);
  Signature committer;
  git_signature_now(committer.out(), "fleet", "fleet@localhost");
  git_oid last = *git_annotated_commit_id(upstream);
  char onto[8];
  git_oid_tostr(onto, sizeof(onto), &last);
  git_rebase_operation* operation = nullptr;
  while ((rc = git_rebase_next(&operation, rebase.p)) == 0) {
    Index index;
    if ((rc = git_rebase_inmemory_index(index.out(), rebase.p)) != 0) {
      return Fail(rc, "read the rebase's index");
    }
    if (git_index_has_conflicts(index.p)) {
      GitStatus status;
      if (!ResolveConflicts(index.p, onto, /*merging=*/false, result, &status)) {
        // Nothing was written: the branch and the work tree are as they were.
        result->resolved.clear();
        result->resolved_by.clear();
        result->kind = PullResult::kConflict;
        return status;
      }
    }
    git_oid id;
    rc = git_rebase_commit(&id, rebase.p, nullptr, committer.p, nullptr, nullptr);
    if (rc == GIT_EAPPLIED) continue;  // Already upstream: nothing to replay.
    if (rc != 0) return Fail(rc, "replay a local commit");
    if (GitStatus held = HoldWhileCatchingUp(&id); !held.ok()) return held;
    last = id;
    ++result->rebased_commits;
  }
  if (rc != GIT_ITEROVER) return Fail(rc, "rebase");
  GitStatus moved = MoveBranchTo(&last, "rebase onto origin/" + branch_);
  ReleaseCatchingUp();
  if (!moved.ok()) {
    result->resolved.clear();
    result->resolved_by.clear();
    return moved;
  }
  result->kind = PullResult::kRebased;
  return {};
}

GitStatus Repo::Merge(const void* upstream_commit, PullResult* result) {
  auto* upstream = static_cast<const git_annotated_commit*>(upstream_commit);
  Object head;
  Commit local, theirs;
  int rc;
  if ((rc = git_revparse_single(head.out(), repo_, "HEAD")) != 0 ||
      (rc = git_commit_lookup(local.out(), repo_, git_object_id(head.p))) != 0 ||
      (rc = git_commit_lookup(theirs.out(), repo_, git_annotated_commit_id(upstream))) != 0) {
    return Fail(rc, "read the commits to merge");
  }
  git_merge_options merge = GIT_MERGE_OPTIONS_INIT;
  Index index;
  if ((rc = git_merge_commits(index.out(), repo_, local.p, theirs.p, &merge)) != 0) {
    return Fail(rc, "merge origin/" + branch_);
  }
  if (git_index_has_conflicts(index.p)) {
    char onto[8];
    git_oid_tostr(onto, sizeof(onto), git_annotated_commit_id(upstream));
    GitStatus status;
    if (!ResolveConflicts(index.p, onto, /*merging=*/true, result, &status)) {
      // Nothing was written: nothing to undo.
      result->resolved.clear();
      result->resolved_by.clear();
      result->kind = PullResult::kConflict;
      return status;
    }
  }
  git_oid tree_id, commit_id;
  Tree tree;
  Signature who;
  if ((rc = git_index_write_tree_to(&tree_id, index.p, repo_)) != 0 ||
      (rc = git_tree_lookup(tree.out(), repo_, &tree_id)) != 0 ||
      (rc = git_signature_now(who.out(), "fleet", "fleet@localhost")) != 0) {
    return Fail(rc, "prepare the merge commit");
  }
  const git_commit* parents[] = {local.p, theirs.p};
  rc = git_commit_create(&commit_id, repo_, nullptr, who.p, who.p, nullptr,
                         ("fleet: merge origin/" + branch_).c_str(), tree.p, 2, parents);
  if (rc != 0) return Fail(rc, "commit the merge");
  if (GitStatus held = HoldWhileCatchingUp(&commit_id); !held.ok()) return held;
  GitStatus moved = MoveBranchTo(&commit_id, "merge origin/" + branch_);
  ReleaseCatchingUp();
  if (!moved.ok()) {
    result->resolved.clear();
    result->resolved_by.clear();
    return moved;
  }
  result->kind = PullResult::kMerged;
  return {};
}

bool Repo::ResolveConflicts(void* index_ptr, const std::string& onto, bool merging,
                            PullResult* result, GitStatus* status) {
  git_index* index = static_cast<git_index*>(index_ptr);
  // Copy out first: resolving changes the index under the iterator.
  struct Conflict {
    std::string path;
    uint32_t mode = GIT_FILEMODE_BLOB;
    std::optional<git_oid> base, upstream, local;
  };
  std::vector<Conflict> conflicts;
  git_index_conflict_iterator* it = nullptr;
  const git_index_entry *ancestor, *ours, *theirs;
  if (git_index_conflict_iterator_new(&it, index) == 0) {
    while (git_index_conflict_next(&ancestor, &ours, &theirs, it) == 0) {
      const git_index_entry* any = ours != nullptr ? ours : theirs != nullptr ? theirs : ancestor;
      Conflict c{any->path, any->mode, {}, {}, {}};
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
  // Staged as a blob in the index, never written to the work tree here (the
  // checkout of the finished commit does that).
  auto put = [&](const std::string& path, uint32_t mode,
                 const std::optional<std::string>& content) -> bool {
    int rc;
    if (content.has_value()) {
      git_index_entry entry;
      std::memset(&entry, 0, sizeof(entry));
      entry.path = path.c_str();
      entry.mode = mode;
      rc = git_blob_create_from_buffer(&entry.id, repo_, content->data(), content->size());
      if (rc == 0) rc = git_index_add(index, &entry);
    } else {
      rc = git_index_remove(index, path.c_str(), 0);
      if (rc == GIT_ENOTFOUND) rc = 0;  // Only the conflict named it.
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
        if (upstream.has_value() && !put(c.path + ".theirs-" + onto, GIT_FILEMODE_BLOB, upstream)) {
          return false;
        }
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
    if (!put(c.path, c.mode, merged)) return false;
    result->resolved.push_back(c.path);
    result->resolved_by.push_back(StrategyName(rule->strategy));
  }
  result->conflicts.clear();
  return true;
}

}  // namespace fleet::plugins::sync
