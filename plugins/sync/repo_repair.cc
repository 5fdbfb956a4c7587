#include "plugins/sync/repo_repair.h"

#include <fcntl.h>
#include <git2.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "plugins/sdk/untrusted_file.h"
#include "plugins/sync/repo_git.h"
namespace fleet::plugins::sync {

GitStatus RepoRepair::Verify(bool deep) {
  Index index;
  int rc = git_repository_index(index.out(), repo_);
  if (rc == 0) rc = git_index_read(index.p, /*force=*/1);
  if (rc != 0) return Fail(rc, "read the index");
  git_odb* odb = nullptr;
  if (deep) {
    if ((rc = git_repository_odb(&odb, repo_)) != 0) return Fail(rc, "open the object database");
    GitStatus status = VerifyObjects(odb);
    if (status.ok()) status = VerifyReferences(odb);
    for (size_t i = 0; status.ok() && i < git_index_entrycount(index.p); ++i) {
      const git_index_entry* e = git_index_get_byindex(index.p, i);
      if (e != nullptr && !git_odb_exists(odb, &e->id)) {
        status = {"the index names " + std::string(e->path) + " as object " + Hex(&e->id) +
                  ", which the repository does not have"};
      }
    }
    if (!status.ok()) {
      git_odb_free(odb);
      return status;
    }
  }
  Reference head;
  rc = git_repository_head(head.out(), repo_);
  if (rc == GIT_EUNBORNBRANCH || rc == GIT_ENOTFOUND) {  // No commit yet.
    git_odb_free(odb);
    return {};
  }
  GitStatus status;
  Commit commit;
  Tree tree;
  if (rc != 0) {
    status = Fail(rc, "read HEAD");
  } else if ((rc = git_commit_lookup(commit.out(), repo_, git_reference_target(head.p))) != 0) {
    status = Fail(rc, "read the commit HEAD names");
  } else if ((rc = git_commit_tree(tree.out(), commit.p)) != 0) {
    status = Fail(rc, "read HEAD's tree");
  } else if (deep && !UnpushedReadable()) {
    status = {"a commit between HEAD and origin/" + branch_ + " cannot be read"};
  } else if (deep) {
    struct Walk {
      git_odb* odb;
      std::string missing;
    } walk{odb, ""};
    git_tree_walk(
        tree.p, GIT_TREEWALK_PRE,
        [](const char* root, const git_tree_entry* entry, void* payload) -> int {
          auto* w = static_cast<Walk*>(payload);
          if (git_odb_exists(w->odb, git_tree_entry_id(entry))) return 0;
          w->missing = std::string(root) + git_tree_entry_name(entry);
          return -1;
        },
        &walk);
    if (!walk.missing.empty()) {
      status = {"HEAD's tree names " + walk.missing + ", which the repository does not have"};
    }
  }
  git_odb_free(odb);
  return status;
}

GitStatus RepoRepair::VerifyReferences(git_odb* odb) {
  git_reference_iterator* it = nullptr;
  int rc = git_reference_iterator_new(&it, repo_);
  if (rc != 0) return Fail(rc, "list the references");
  std::vector<std::string> dangling_remote;
  GitStatus status;
  git_reference* ref = nullptr;
  while (status.ok() && (rc = git_reference_next(&ref, it)) == 0) {
    const git_oid* target = git_reference_target(ref);
    const std::string name = git_reference_name(ref);
    const bool remote = name.rfind("refs/remotes/", 0) == 0;
    if (target != nullptr && remote && !RemoteHistoryComplete(odb, target)) {
      dangling_remote.push_back(name);
    } else if (target != nullptr && !git_odb_exists(odb, target)) {
      status = {name + " names object " + Hex(target) + ", which the repository does not have"};
    }
    git_reference_free(ref);
  }
  git_reference_iterator_free(it);
  if (!status.ok()) return status;
  // What the remote had is fetched again: a remote-tracking ref to a lost
  // object or history (a `git gc --prune=now` between a fetch and its ref
  // update) is dropped rather than failing every comparison with the remote.
  for (const std::string& name : dangling_remote) {
    Reference r;
    if (git_reference_lookup(r.out(), repo_, name.c_str()) == 0) git_reference_delete(r.p);
  }
  return {};
}

bool RepoRepair::RemoteHistoryComplete(git_odb* odb, const git_oid* tip) {
  // The tip's whole tree, and the commits (with their root trees) a rebase
  // or merge base search walks: a fetch never sends objects again for
  // history it believes we have.
  constexpr int kMaxCommits = 1000;
  git_oid id = *tip;
  for (int n = 0; n < kMaxCommits; ++n) {
    Commit commit;
    if (!git_odb_exists(odb, &id) || git_commit_lookup(commit.out(), repo_, &id) != 0 ||
        !git_odb_exists(odb, git_commit_tree_id(commit.p))) {
      return false;
    }
    if (n == 0) {
      Tree tree;
      if (git_commit_tree(tree.out(), commit.p) != 0) return false;
      bool complete = true;
      std::pair<git_odb*, bool*> walk{odb, &complete};
      git_tree_walk(
          tree.p, GIT_TREEWALK_PRE,
          [](const char*, const git_tree_entry* entry, void* payload) -> int {
            auto* p = static_cast<std::pair<git_odb*, bool*>*>(payload);
            if (git_odb_exists(p->first, git_tree_entry_id(entry))) return 0;
            *p->second = false;
            return -1;
          },
          &walk);
      if (!complete) return false;
    }
    for (unsigned i = 1; i < git_commit_parentcount(commit.p); ++i) {
      if (!git_odb_exists(odb, git_commit_parent_id(commit.p, i))) return false;
    }
    if (git_commit_parentcount(commit.p) == 0) return true;
    id = *git_commit_parent_id(commit.p, 0);
  }
  return true;
}

GitStatus RepoRepair::VerifyObjects(git_odb* odb) {
  std::vector<git_oid> ids;
  int rc = git_odb_foreach(
      odb,
      [](const git_oid* id, void* payload) -> int {
        static_cast<std::vector<git_oid>*>(payload)->push_back(*id);
        return 0;
      },
      &ids);
  if (rc != 0) return Fail(rc, "list the stored objects");
  for (const git_oid& id : ids) {
    git_odb_object* object = nullptr;
    if ((rc = git_odb_read(&object, odb, &id)) != 0) {
      return Fail(rc, "read stored object " + Hex(&id));
    }
    git_odb_object_free(object);
  }
  return {};
}

bool RepoRepair::UnpushedReadable() {
  bool unreadable = false;
  UnpushedCommits(&unreadable);
  return !unreadable;
}

std::vector<std::string> RepoRepair::UnpushedCommits(bool* unreadable) {
  // Down the first-parent line from HEAD to the remote branch's commit,
  // without reading the remote's commits: in a damaged repository they may
  // be the unreadable ones.
  *unreadable = false;
  std::vector<std::string> out;
  Reference head;
  if (git_repository_head(head.out(), repo_) != 0) {
    *unreadable = git_repository_head_unborn(repo_) != 1;  // Unborn: no commit yet.
    return out;
  }
  git_oid pushed{};
  Reference upstream;
  const bool has_upstream = git_reference_lookup(upstream.out(), repo_,
                                                 ("refs/remotes/origin/" + branch_).c_str()) == 0 &&
                            git_reference_target(upstream.p) != nullptr;
  if (has_upstream) git_oid_cpy(&pushed, git_reference_target(upstream.p));
  git_oid id = *git_reference_target(head.p);
  for (;;) {
    if (has_upstream && git_oid_equal(&id, &pushed)) break;
    Commit commit;
    if (git_commit_lookup(commit.out(), repo_, &id) != 0) {
      *unreadable = true;
      break;
    }
    const char* summary = git_commit_summary(commit.p);
    out.push_back(Hex(&id).substr(0, 7) + " " + (summary != nullptr ? summary : ""));
    if (git_commit_parentcount(commit.p) == 0) break;
    id = *git_commit_parent_id(commit.p, 0);
  }
  return out;
}

std::map<std::string, std::optional<std::string>> RepoRepair::ChangesSinceHead() {
  std::map<std::string, std::optional<std::string>> out;
  Object head_tree;
  if (git_revparse_single(head_tree.out(), repo_, "HEAD^{tree}") != 0) return out;
  git_diff_options options = GIT_DIFF_OPTIONS_INIT;
  options.flags = GIT_DIFF_INCLUDE_UNTRACKED | GIT_DIFF_RECURSE_UNTRACKED_DIRS;
  git_diff* diff = nullptr;
  if (git_diff_tree_to_workdir(&diff, repo_, reinterpret_cast<git_tree*>(head_tree.p), &options) !=
      0) {
    return out;
  }
  const std::string root = git_repository_workdir(repo_);
  for (size_t i = 0; i < git_diff_num_deltas(diff); ++i) {
    const git_diff_delta* delta = git_diff_get_delta(diff, i);
    const std::string path = delta->new_file.path;
    if (delta->status == GIT_DELTA_DELETED) {
      out[path] = std::nullopt;
      continue;
    }
    // A worker's file: never a FIFO's wait or a symlink's target, bounded.
    out[path] = sdk::ReadUntrustedFile(root + path, kMaxStateFileBytes).content;
  }
  git_diff_free(diff);
  return out;
}

std::string RepoRepair::UndoInterruptedOperation() {
  const int state = git_repository_state(repo_);
  const std::string marker = std::string(git_repository_path(repo_)) + kFastForwardMarker;
  if (state == GIT_REPOSITORY_STATE_NONE && Exists(marker)) {
    // A move of the branch (a fast-forward, or a rebase's or merge's
    // result) was cut between its checkout and its ref update: the tree is
    // (partly) the new commit's, HEAD the old one. Back to HEAD,
    // keeping only what someone wrote since (as below).
    ClearStaleLocks();
    std::map<std::string, std::optional<std::string>> written = ChangesSinceHead();
    std::string before, target;
    std::ifstream(marker) >> before >> target;
    ResetToHead();  // reset --hard HEAD
    // The checkout's own files match the target commit: not kept.
    const PutBackResult put = PutBack(written, {"HEAD^{tree}", target + "^{tree}"});
    ::unlink(marker.c_str());
    return "a checkout of fetched or merged commits left half done (a process was killed "
           "mid-sync) was undone; " +
           put.Describe();
  }
  if (state == GIT_REPOSITORY_STATE_NONE) return "";
  ClearStaleLocks();  // The killed process's index.lock would block the undo.
  std::map<std::string, std::optional<std::string>> written = ChangesSinceHead();
  const bool rebase = state == GIT_REPOSITORY_STATE_REBASE ||
                      state == GIT_REPOSITORY_STATE_REBASE_MERGE ||
                      state == GIT_REPOSITORY_STATE_REBASE_INTERACTIVE;
  bool undone = false;
  // Every version the operation itself could have checked out: the branch,
  // and for a rebase the commit it builds on and each commit it replays.
  std::vector<std::string> known = {LocalRef(branch_) + "^{tree}"};
  auto hex = [](const git_oid* id) {
    char out[GIT_OID_HEXSZ + 1];
    git_oid_tostr(out, sizeof(out), id);
    return std::string(out) + "^{tree}";
  };
  if (rebase) {
    git_rebase_options options = GIT_REBASE_OPTIONS_INIT;
    RebaseOp op;
    if (git_rebase_open(op.out(), repo_, &options) == 0) {
      known.push_back(hex(git_rebase_onto_id(op.p)));
      for (size_t i = 0; i < git_rebase_operation_entrycount(op.p); ++i) {
        known.push_back(hex(&git_rebase_operation_byindex(op.p, i)->id));
      }
      undone = git_rebase_abort(op.p) == 0;
    }
  }
  if (!undone) {
    // A merge, or a rebase too broken to open: back to the branch itself
    // (a rebase moves it only when it finishes).
    git_repository_set_head(repo_, LocalRef(branch_).c_str());
    ResetToHead();
  }
  git_repository_state_cleanup(repo_);
  // What to put back: a file whose content matches none of the versions the
  // operation itself could have written (the partial result, the branch,
  // the commit it builds on, each commit it replays) was written by someone
  // after it began (a worker that outlived fleetd). One that matches is the
  // operation's own half-done checkout: writing it back would commit a
  // stale version (another instance's file, or an older one of our own) as
  // this instance's change, so it stays as restored.
  const PutBackResult put = PutBack(written, known);
  return std::string(rebase ? "a rebase" : "a merge") +
         " left half done (a process was killed mid-sync) was undone; " + put.Describe();
}

RepoRepair::PutBackResult RepoRepair::PutBack(
    const std::map<std::string, std::optional<std::string>>& written,
    const std::vector<std::string>& tree_specs) {
  const std::string root = git_repository_workdir(repo_);
  // A path's content in the tree named by spec, if it is there.
  auto content_in = [&](const std::string& spec,
                        const std::string& path) -> std::optional<std::string> {
    Object tree;
    TreeEntry entry;
    Object blob;
    if (git_revparse_single(tree.out(), repo_, spec.c_str()) != 0 ||
        git_tree_entry_bypath(entry.out(), reinterpret_cast<git_tree*>(tree.p), path.c_str()) !=
            0 ||
        git_tree_entry_to_object(blob.out(), repo_, entry.p) != 0) {
      return std::nullopt;
    }
    auto* b = reinterpret_cast<git_blob*>(blob.p);
    return std::string(static_cast<const char*>(git_blob_rawcontent(b)),
                       static_cast<size_t>(git_blob_rawsize(b)));
  };
  PutBackResult result;
  const std::string aside = std::string(git_repository_path(repo_)) + "fleet-undone/" +
                            std::to_string(::time(nullptr)) + "/";
  for (const auto& [path, content] : written) {
    // Deleted files are restored, not deleted again: nothing is lost so.
    if (!content.has_value()) continue;
    bool known = false, tracked = false;
    for (const std::string& spec : tree_specs) {
      std::optional<std::string> version = content_in(spec, path);
      tracked = tracked || version.has_value();
      known = known || version == content;
    }
    if (known) continue;  // The operation's own checkout.
    // A new file is someone's write: back in place. A changed tracked file
    // may be a checkout cut mid-write as well as someone's write: the tree
    // keeps the committed version and this one is set aside, never lost and
    // never committed as this instance's change.
    std::string target = root + path;
    if (tracked) {
      target = aside + path;
      const size_t slash = target.rfind('/');
      std::error_code ec;
      std::filesystem::create_directories(target.substr(0, slash), ec);
      result.aside_dir = aside;
      ++result.set_aside;
    } else {
      ++result.kept;
    }
    std::ofstream out(target, std::ios::binary | std::ios::trunc);
    out << *content;
  }
  return result;
}

std::string RepoRepair::PutBackResult::Describe() const {
  std::string out = std::to_string(kept) + " new file(s) written since were kept";
  if (set_aside > 0) {
    out += "; " + std::to_string(set_aside) + " changed file(s) were set aside in " + aside_dir +
           " (the tree has the committed versions)";
  }
  return out;
}

std::vector<std::string> RepoRepair::ClearStaleLocks() {
  std::vector<std::string> cleared;
  const std::string git_dir = git_repository_path(repo_);  // ends with '/'
  // Every lock a killed fetch, commit, rebase or push can leave behind (a
  // leftover remote-tracking ref lock made every later fetch fail: found by
  // the fault suite).
  for (const std::string& name :
       {std::string("index.lock"), std::string("HEAD.lock"), std::string("ORIG_HEAD.lock"),
        std::string("FETCH_HEAD.lock"), std::string("packed-refs.lock"), std::string("config.lock"),
        LocalRef(branch_) + ".lock", RemoteRef(branch_) + ".lock"}) {
    if (RemoveIfNobodyHolds(git_dir + name)) cleared.push_back(git_dir + name);
  }
  RemoveHalfWrittenPacks(git_dir + "objects/pack");
  return cleared;
}

void RepoRepair::ResetToHead() {
  Object head;
  if (git_revparse_single(head.out(), repo_, "HEAD") == 0) {
    git_checkout_options checkout = GIT_CHECKOUT_OPTIONS_INIT;
    checkout.checkout_strategy = GIT_CHECKOUT_FORCE;
    git_reset(repo_, head.p, GIT_RESET_HARD, &checkout);
  }
  git_repository_state_cleanup(repo_);
}

}  // namespace fleet::plugins::sync
