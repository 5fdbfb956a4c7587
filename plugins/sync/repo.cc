#include "plugins/sync/repo.h"

#include <fcntl.h>
#include <git2.h>
#include <sys/file.h>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>

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
    *status = result->MoveBranchTo(git_reference_target(upstream.p), "clone");
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
    return MoveBranchTo(git_annotated_commit_id(upstream.p), "fast-forward");
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
