#include "plugins/sync/repo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/file.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>

#include "plugins/formats/json_merge.h"
#include "plugins/formats/state_file_check.h"
#include "plugins/procfs/procfs.h"
#include "plugins/sdk/untrusted_file.h"
#include "plugins/sync/bounded_stream.h"
#include "plugins/sync/file_lock.h"

namespace fleet::plugins::sync {
namespace {

using formats::Json;
using formats::MergeJson;
using formats::ParseJson;
using formats::StateFileError;
using formats::WriteJson;
using procfs::OpenByAnyProcess;

// libgit2's error codes become one place's text (STYLE: C errors are
// converted in one place each).
GitStatus Fail(int code, const std::string& what) {
  const git_error* e = git_error_last();
  std::string message =
      e != nullptr && e->message != nullptr ? e->message : "libgit2 error " + std::to_string(code);
  return {what + ": " + message};
}

GitStatus RemoteFail(int code, const std::string& what) {
  GitStatus status = Fail(code, what);
  status.remote = true;
  return status;
}

void InitOnce() {
  static const int init = git_libgit2_init();
  (void)init;
  RegisterBoundedStream();  // No network wait without a limit.
}

template <typename T, void (*Free)(T*)>
struct Owned {
  T* p = nullptr;
  ~Owned() {
    if (p != nullptr) Free(p);
  }
  T** out() { return &p; }
};

using Reference = Owned<git_reference, git_reference_free>;
using Remote = Owned<git_remote, git_remote_free>;
using Index = Owned<git_index, git_index_free>;
using Tree = Owned<git_tree, git_tree_free>;
using Commit = Owned<git_commit, git_commit_free>;
using Signature = Owned<git_signature, git_signature_free>;
using Annotated = Owned<git_annotated_commit, git_annotated_commit_free>;
using Object = Owned<git_object, git_object_free>;
using RebaseOp = Owned<git_rebase, git_rebase_free>;
using TreeEntry = Owned<git_tree_entry, git_tree_entry_free>;

std::string Hex(const git_oid* id) {
  char out[GIT_OID_HEXSZ + 1];
  git_oid_tostr(out, sizeof(out), id);
  return out;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// The push lock of a remote on this machine: <remote>/fleet-push.flock.
// Empty for network remotes (their server serialises ref updates itself).
std::string RemotePushLockPath(git_remote* remote) {
  std::string url = git_remote_url(remote);
  if (url.rfind("file://", 0) == 0) url = url.substr(7);
  if (url.find("://") != std::string::npos || url.find(':') != std::string::npos) return "";
  return url + "/fleet-push.flock";
}

// Removes path if it exists and no process has it open (a leftover of a
// killed writer, not a file being written).
bool RemoveIfNobodyHolds(const std::string& path);

// A pack a killed fetch or push was writing (pack_git2_*) and its index
// lock, in a repository's objects/pack.
void RemoveHalfWrittenPacks(const std::string& packs) {
  DIR* d = ::opendir(packs.c_str());
  if (d == nullptr) return;
  std::vector<std::string> leftovers;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.rfind("pack_git2_", 0) == 0 ||
        (name.size() > 5 && name.compare(name.size() - 5, 5, ".lock") == 0)) {
      leftovers.push_back(packs + "/" + name);
    }
  }
  ::closedir(d);
  for (const std::string& f : leftovers) RemoveIfNobodyHolds(f);
}

bool RemoveIfNobodyHolds(const std::string& path) {
  char resolved[PATH_MAX];
  return Exists(path) && ::realpath(path.c_str(), resolved) != nullptr &&
         !OpenByAnyProcess(resolved) && ::unlink(path.c_str()) == 0;
}

// In the .git directory while a fast-forward runs (see FastForward).
constexpr char kFastForwardMarker[] = "fleet-fast-forward";
// A state file in a work tree, read to compare versions: bounded.
constexpr size_t kMaxStateFileBytes = 256u << 20;

std::string LocalRef(const std::string& branch) { return "refs/heads/" + branch; }
std::string RemoteRef(const std::string& branch) { return "refs/remotes/origin/" + branch; }

}  // namespace

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

GitStatus Repo::Verify(bool deep) {
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

GitStatus Repo::VerifyReferences(git_odb* odb) {
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

bool Repo::RemoteHistoryComplete(git_odb* odb, const git_oid* tip) {
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

GitStatus Repo::VerifyObjects(git_odb* odb) {
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

bool Repo::UnpushedReadable() {
  bool unreadable = false;
  UnpushedCommits(&unreadable);
  return !unreadable;
}

std::vector<std::string> Repo::UnpushedCommits(bool* unreadable) {
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
  const bool has_upstream =
      git_reference_lookup(upstream.out(), repo_, ("refs/remotes/origin/" + branch_).c_str()) == 0 &&
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

void Repo::AbandonMerge() {
  Object head;
  if (git_revparse_single(head.out(), repo_, "HEAD") == 0) {
    git_checkout_options checkout = GIT_CHECKOUT_OPTIONS_INIT;
    checkout.checkout_strategy = GIT_CHECKOUT_FORCE;
    git_reset(repo_, head.p, GIT_RESET_HARD, &checkout);
  }
  git_repository_state_cleanup(repo_);
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
