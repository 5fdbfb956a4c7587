#include "plugins/sync/repo_git.h"

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "plugins/procfs/procfs.h"
#include "plugins/sync/bounded_stream.h"

namespace fleet::plugins::sync {

using procfs::OpenByAnyProcess;

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

std::string Hex(const git_oid* id) {
  char out[GIT_OID_HEXSZ + 1];
  git_oid_tostr(out, sizeof(out), id);
  return out;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string RemotePushLockPath(git_remote* remote) {
  std::string url = git_remote_url(remote);
  if (url.rfind("file://", 0) == 0) url = url.substr(7);
  if (url.find("://") != std::string::npos || url.find(':') != std::string::npos) return "";
  return url + "/fleet-push.flock";
}

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

}  // namespace fleet::plugins::sync
