// libgit2 helpers shared by repo.cc, repo_verify.cc and repo_merge.cc:
// owned handles, errors as text, refs, and the leftovers a killed writer
// leaves. Internal to the sync plugin (not Repo's interface).
#ifndef FLEET_PLUGINS_SYNC_REPO_GIT_H_
#define FLEET_PLUGINS_SYNC_REPO_GIT_H_

#include <git2.h>

#include <cstddef>
#include <string>

#include "plugins/sync/repo.h"

namespace fleet::plugins::sync {

// libgit2's error codes become one place's text (STYLE: C errors are
// converted in one place each).
GitStatus Fail(int code, const std::string& what);
GitStatus RemoteFail(int code, const std::string& what);

// libgit2 initialised and the bounded stream registered, once.
void InitOnce();

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

std::string Hex(const git_oid* id);
bool Exists(const std::string& path);

// The push lock of a remote on this machine: <remote>/fleet-push.flock.
// Empty for network remotes (their server serialises ref updates itself).
std::string RemotePushLockPath(git_remote* remote);

// Removes path if it exists and no process has it open (a leftover of a
// killed writer, not a file being written).
bool RemoveIfNobodyHolds(const std::string& path);

// A pack a killed fetch or push was writing (pack_git2_*) and its index
// lock, in a repository's objects/pack.
void RemoveHalfWrittenPacks(const std::string& packs);

// Names the commits a rebase or merge is making until the branch moves to
// them (Repo::HoldWhileCatchingUp).
inline constexpr char kCatchingUpRef[] = "refs/fleet/catching-up";
// In the .git directory while the branch moves (see Repo::MoveBranchTo).
inline constexpr char kFastForwardMarker[] = "fleet-fast-forward";
// A state file in a work tree, read to compare versions: bounded.
inline constexpr size_t kMaxStateFileBytes = 256u << 20;

inline std::string LocalRef(const std::string& branch) { return "refs/heads/" + branch; }
inline std::string RemoteRef(const std::string& branch) { return "refs/remotes/origin/" + branch; }

}  // namespace fleet::plugins::sync

#endif  // FLEET_PLUGINS_SYNC_REPO_GIT_H_
