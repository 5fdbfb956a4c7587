#include "plugins/sync/repo.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>

#include "plugins/sdk/untrusted_file.h"
#include "plugins/sync/file_lock.h"
#include "plugins/sync/repo_git.h"
namespace fleet::plugins::sync {

std::unique_ptr<Repo> Repo::OpenOrClone(const std::string& work_tree, const std::string& remote,
                                        const std::string& branch, GitStatus* status) {
  InitOnce();
  git_repository* repo = nullptr;
  int rc = git_repository_open(&repo, work_tree.c_str());
  if (rc == 0) return std::unique_ptr<Repo>(new Repo(repo, branch));
  // libgit2 says "not found" for a repository owned by another user too:
  // never take that for "no repository" and clone over someone's work.
  if (Exists(work_tree + "/.git")) {
    *status = Fail(rc, "open " + work_tree + " (is it owned by another user?)");
    return nullptr;
  }
  git_clone_options options = GIT_CLONE_OPTIONS_INIT;
  rc = git_clone(&repo, remote.c_str(), work_tree.c_str(), &options);
  if (rc != 0) {
    *status = RemoteFail(rc, "clone " + remote + " into " + work_tree);
    return nullptr;
  }
  auto result = std::unique_ptr<Repo>(new Repo(repo, branch));
  // Put HEAD on the fleet's branch: from the remote's, or unborn until the
  // first commit when the remote has none yet.
  Reference upstream;
  if (git_reference_lookup(upstream.out(), repo, RemoteRef(branch).c_str()) == 0) {
    *status = result->FastForward(git_reference_target(upstream.p));
    if (!status->ok()) return nullptr;
  } else {
    rc = git_repository_set_head(repo, LocalRef(branch).c_str());
    if (rc != 0) {
      *status = Fail(rc, "set HEAD to " + branch);
      return nullptr;
    }
  }
  return result;
}

Repo::~Repo() { git_repository_free(repo_); }

std::map<std::string, std::optional<std::string>> Repo::ChangesSinceHead() {
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

std::string Repo::UndoInterruptedOperation() {
  const int state = git_repository_state(repo_);
  const std::string marker = std::string(git_repository_path(repo_)) + kFastForwardMarker;
  if (state == GIT_REPOSITORY_STATE_NONE && Exists(marker)) {
    // A fast-forward was cut between its checkout and its ref update: the
    // tree is (partly) the remote's, HEAD the old commit. Back to HEAD,
    // keeping only what someone wrote since (as below).
    ClearStaleLocks();
    std::map<std::string, std::optional<std::string>> written = ChangesSinceHead();
    std::string before, target;
    std::ifstream(marker) >> before >> target;
    AbandonMerge();  // reset --hard HEAD
    // The checkout's own files match the target commit: not kept.
    const PutBackResult put = PutBack(written, {"HEAD^{tree}", target + "^{tree}"});
    ::unlink(marker.c_str());
    return "a fast-forward left half done (a process was killed mid-sync) was undone; " +
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
    AbandonMerge();
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

Repo::PutBackResult Repo::PutBack(const std::map<std::string, std::optional<std::string>>& written,
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

std::string Repo::PutBackResult::Describe() const {
  std::string out = std::to_string(kept) + " new file(s) written since were kept";
  if (set_aside > 0) {
    out += "; " + std::to_string(set_aside) + " changed file(s) were set aside in " + aside_dir +
           " (the tree has the committed versions)";
  }
  return out;
}

std::vector<std::string> Repo::ClearStaleLocks() {
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

std::string Repo::Head() {
  git_oid oid;
  if (git_reference_name_to_id(&oid, repo_, "HEAD") != 0) return "";
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr(hex, sizeof(hex), &oid);
  return hex;
}

GitStatus Repo::CommitAll(const std::string& author, const std::string& email,
                          const std::string& message, bool* committed) {
  *committed = false;
  ClearStaleLocks();
  Index index;
  int rc = git_repository_index(index.out(), repo_);
  if (rc != 0) return Fail(rc, "open the index");
  // The repository caches its index; a rebase or checkout rewrote the file.
  // Staging against a stale copy would keep old blobs for files that look
  // unchanged and silently revert other writers' changes.
  if ((rc = git_index_read(index.p, /*force=*/1)) != 0) return Fail(rc, "read the index");
  char star[] = "*";
  char* patterns[] = {star};
  git_strarray all = {patterns, 1};
  // add_all picks up new and modified files; update_all drops deleted ones.
  if ((rc = git_index_add_all(index.p, &all, GIT_INDEX_ADD_DEFAULT, nullptr, nullptr)) != 0 ||
      (rc = git_index_update_all(index.p, &all, nullptr, nullptr)) != 0 ||
      (rc = git_index_write(index.p)) != 0) {
    if (rc == GIT_ELOCKED) {
      return {"stage changes: " + std::string(git_repository_path(repo_)) +
              "index.lock is held by a running process; try again when it is done"};
    }
    return Fail(rc, "stage changes");
  }
  git_oid tree_id;
  if ((rc = git_index_write_tree(&tree_id, index.p)) != 0) return Fail(rc, "write the tree");
  Tree tree;
  if ((rc = git_tree_lookup(tree.out(), repo_, &tree_id)) != 0) return Fail(rc, "read the tree");
  Commit parent;
  git_oid head;
  const bool has_head = git_reference_name_to_id(&head, repo_, "HEAD") == 0;
  if (has_head) {
    if ((rc = git_commit_lookup(parent.out(), repo_, &head)) != 0) return Fail(rc, "read HEAD");
    if (git_oid_equal(git_commit_tree_id(parent.p), &tree_id)) return {};
  } else if (git_tree_entrycount(tree.p) == 0) {
    return {};
  }
  Signature signature;
  if ((rc = git_signature_now(signature.out(), author.c_str(), email.c_str())) != 0) {
    return Fail(rc, "make a signature for " + author);
  }
  const git_commit* parents[] = {parent.p};
  git_oid id;
  rc = git_commit_create(&id, repo_, "HEAD", signature.p, signature.p, nullptr, message.c_str(),
                         tree.p, has_head ? 1 : 0, parents);
  if (rc != 0) return Fail(rc, "commit");
  *committed = true;
  return {};
}

GitStatus Repo::Pull(PullResult* result) {
  *result = PullResult();
  ClearStaleLocks();
  Remote remote;
  int rc = git_remote_lookup(remote.out(), repo_, "origin");
  if (rc != 0) return Fail(rc, "find remote origin");
  git_fetch_options fetch = GIT_FETCH_OPTIONS_INIT;
  if ((rc = git_remote_fetch(remote.p, nullptr, &fetch, nullptr)) != 0)
    return RemoteFail(rc, "fetch origin");
  Reference upstream_ref;
  if (git_reference_lookup(upstream_ref.out(), repo_, RemoteRef(branch_).c_str()) != 0) {
    return {};  // The remote has no such branch yet: nothing to catch up with.
  }
  Annotated upstream;
  if ((rc = git_annotated_commit_from_ref(upstream.out(), repo_, upstream_ref.p)) != 0) {
    return Fail(rc, "read origin/" + branch_);
  }
  git_merge_analysis_t analysis;
  git_merge_preference_t preference;
  const git_annotated_commit* heads[] = {upstream.p};
  if ((rc = git_merge_analysis(&analysis, &preference, repo_, heads, 1)) != 0) {
    return Fail(rc, "compare with origin/" + branch_);
  }
  if (analysis & GIT_MERGE_ANALYSIS_UP_TO_DATE) return {};
  if (analysis & (GIT_MERGE_ANALYSIS_FASTFORWARD | GIT_MERGE_ANALYSIS_UNBORN)) {
    result->kind = PullResult::kFastForward;
    return FastForward(git_annotated_commit_id(upstream.p));
  }
  return merge_ ? Merge(upstream.p, result) : Rebase(upstream.p, result);
}

GitStatus Repo::Push(bool* rejected, std::string* refusal) {
  *rejected = false;
  Remote remote;
  int rc = git_remote_lookup(remote.out(), repo_, "origin");
  if (rc != 0) return Fail(rc, "find remote origin");
  struct Payload {
    std::string refusal;
    std::string remote_said;  // What the remote's hooks printed ("remote: ...").
  } payload;
  git_push_options options = GIT_PUSH_OPTIONS_INIT;
  // A refusal (a hook, a race) may arrive only here while push returns 0.
  options.callbacks.push_update_reference = [](const char* ref, const char* status,
                                               void* data) -> int {
    if (status != nullptr) {
      static_cast<Payload*>(data)->refusal = std::string(ref) + ": " + status;
    }
    return 0;
  };
  options.callbacks.sideband_progress = [](const char* text, int len, void* data) -> int {
    std::string& said = static_cast<Payload*>(data)->remote_said;
    if (len > 0 && said.size() < 2048) said.append(text, std::min<size_t>(len, 2048 - said.size()));
    return 0;
  };
  options.callbacks.payload = &payload;
  // libgit2's local transport checks fast-forward and then writes the ref:
  // two pushers can interleave and one update is lost. Pushing to a local
  // remote therefore holds its push lock; a network remote does this itself.
  std::unique_ptr<FileLock> lock;
  if (const std::string path = RemotePushLockPath(remote.p); !path.empty()) {
    lock = std::make_unique<FileLock>(path, 60000);
    push_lock_wait_ms_ += lock->waited_ms();
    if (!lock->held()) return {lock->error()};
    // A pusher killed mid-push leaves the remote's ref lock behind, and every
    // later push would fail on it. Under the push lock none of ours is
    // writing it; one that no process has open is a leftover.
    const std::string remote_dir = path.substr(0, path.rfind('/'));
    RemoveIfNobodyHolds(remote_dir + "/" + LocalRef(branch_) + ".lock");
    // ...and, killed while sending objects, a half-written pack and its
    // index lock: garbage Git ignores, but it would stay forever.
    RemoveHalfWrittenPacks(remote_dir + "/objects/pack");
  }
  std::string spec = LocalRef(branch_) + ":" + LocalRef(branch_);
  char* specs[] = {spec.data()};
  git_strarray refspecs = {specs, 1};
  rc = git_remote_push(remote.p, &refspecs, &options);
  if (rc == GIT_ENONFASTFORWARD || (rc == 0 && !payload.refusal.empty())) {
    *rejected = true;
    if (refusal != nullptr) {
      // "refs/heads/main: pre-receive hook declined (remote: frozen until 6pm)"
      std::string said;
      for (char c : payload.remote_said) said += (c == '\r' || c == '\n') ? ' ' : c;
      while (!said.empty() && said.back() == ' ') said.pop_back();
      *refusal = payload.refusal.empty() ? "not a fast-forward" : payload.refusal;
      if (!said.empty()) *refusal += " (remote: " + said + ")";
    }
    return {};
  }
  if (rc != 0) return RemoteFail(rc, "push to origin");
  return {};
}

int Repo::Ahead() {
  git_oid local, remote;
  if (git_reference_name_to_id(&local, repo_, "HEAD") != 0) {
    return git_repository_head_unborn(repo_) == 1 ? 0 : -1;
  }
  if (git_reference_name_to_id(&remote, repo_, RemoteRef(branch_).c_str()) != 0) {
    // Nothing pushed yet: every local commit is ahead.
    git_revwalk* walk = nullptr;
    if (git_revwalk_new(&walk, repo_) != 0) return -1;
    int count = git_revwalk_push(walk, &local) == 0 ? 0 : -1;
    git_oid id;
    int rc;
    while (count >= 0 && (rc = git_revwalk_next(&id, walk)) == 0) ++count;
    if (count >= 0 && rc != GIT_ITEROVER) count = -1;
    git_revwalk_free(walk);
    return count;
  }
  size_t ahead = 0, behind = 0;
  if (git_graph_ahead_behind(&ahead, &behind, repo_, &local, &remote) != 0) return -1;
  return static_cast<int>(ahead);
}

}  // namespace fleet::plugins::sync
