#include "tests/integration/git_remote.h"

#include <git2.h>

#include <filesystem>

namespace fleet::testing {
namespace {

namespace fs = std::filesystem;

std::string BlobText(git_repository* repo, const git_oid* id) {
  git_blob* blob = nullptr;
  if (git_blob_lookup(&blob, repo, id) != 0) return "";
  std::string out(static_cast<const char*>(git_blob_rawcontent(blob)),
                  static_cast<size_t>(git_blob_rawsize(blob)));
  git_blob_free(blob);
  return out;
}

struct WalkState {
  git_repository* repo;
  std::map<std::string, std::string>* out;
};

int CollectBlob(const char* root, const git_tree_entry* entry, void* payload) {
  auto* state = static_cast<WalkState*>(payload);
  if (git_tree_entry_type(entry) == GIT_OBJECT_BLOB) {
    (*state->out)[std::string(root) + git_tree_entry_name(entry)] =
        BlobText(state->repo, git_tree_entry_id(entry));
  }
  return 0;
}

}  // namespace

Remote::Remote(std::string path) : path_(std::move(path)) { git_libgit2_init(); }
Remote::~Remote() { git_libgit2_shutdown(); }

std::map<std::string, int> Remote::CommitsByAuthor() const {
  std::map<std::string, int> out;
  git_repository* repo = nullptr;
  if (git_repository_open_bare(&repo, path_.c_str()) != 0) return out;
  git_revwalk* walk = nullptr;
  git_revwalk_new(&walk, repo);
  if (git_revwalk_push_ref(walk, "refs/heads/main") == 0) {
    git_oid id;
    while (git_revwalk_next(&id, walk) == 0) {
      git_commit* commit = nullptr;
      if (git_commit_lookup(&commit, repo, &id) != 0) continue;
      ++out[git_commit_author(commit)->name];
      git_commit_free(commit);
    }
  }
  git_revwalk_free(walk);
  git_repository_free(repo);
  return out;
}

std::string Remote::File(const std::string& file) const {
  std::string out;
  git_repository* repo = nullptr;
  if (git_repository_open_bare(&repo, path_.c_str()) != 0) return out;
  git_object* blob = nullptr;
  if (git_revparse_single(&blob, repo, ("main:" + file).c_str()) == 0) {
    out = BlobText(repo, git_object_id(blob));
    git_object_free(blob);
  }
  git_repository_free(repo);
  return out;
}

std::map<std::string, std::string> Remote::Files() const {
  std::vector<std::map<std::string, std::string>> at = Walk(/*only_head=*/true);
  return at.empty() ? std::map<std::string, std::string>() : at.front();
}

std::vector<std::map<std::string, std::string>> Remote::FilesAtEveryCommit() const {
  return Walk(/*only_head=*/false);
}

std::vector<std::map<std::string, std::string>> Remote::Walk(bool only_head) const {
  std::vector<std::map<std::string, std::string>> out;
  git_repository* repo = nullptr;
  if (git_repository_open_bare(&repo, path_.c_str()) != 0) return out;
  git_revwalk* walk = nullptr;
  git_revwalk_new(&walk, repo);
  if (git_revwalk_push_ref(walk, "refs/heads/main") == 0) {
    git_oid id;
    while (git_revwalk_next(&id, walk) == 0) {
      git_commit* commit = nullptr;
      git_tree* tree = nullptr;
      if (git_commit_lookup(&commit, repo, &id) == 0 && git_commit_tree(&tree, commit) == 0) {
        out.emplace_back();
        WalkState state{repo, &out.back()};
        git_tree_walk(tree, GIT_TREEWALK_PRE, CollectBlob, &state);
      }
      git_tree_free(tree);
      git_commit_free(commit);
      if (only_head) break;
    }
  }
  git_revwalk_free(walk);
  git_repository_free(repo);
  return out;
}

std::string InitBareRemote(const std::string& dir) {
  const std::string path = dir + "/remote.git";
  git_libgit2_init();
  git_repository* bare = nullptr;
  if (git_repository_init(&bare, path.c_str(), 1) == 0) git_repository_free(bare);
  git_libgit2_shutdown();
  return path;
}

std::vector<std::string> LockFiles(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().extension() == ".lock") out.push_back(it->path().string());
  }
  return out;
}

}  // namespace fleet::testing
