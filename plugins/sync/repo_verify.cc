// Repo, checked: references and objects readable (a damaged tree is
// rebuilt by the caller), and what is committed but not pushed yet.
#include <errno.h>
#include <git2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <optional>

#include "plugins/sync/repo.h"
#include "plugins/sync/repo_git.h"
namespace fleet::plugins::sync {

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

}  // namespace fleet::plugins::sync
