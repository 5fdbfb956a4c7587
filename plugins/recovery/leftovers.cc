#include "plugins/recovery/leftovers.h"

#include <algorithm>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "plugins/procfs/procfs.h"

namespace fleet::plugins::recovery {
namespace {

namespace fs = std::filesystem;
using fleet::plugin::v1::RecoveryPlan;

// A lock directory without an owner file is being created; past this age its
// creator died between mkdir and writing the owner (as core/fileproto says).
constexpr int kOwnerlessGraceSeconds = 5;
// A Git lock younger than this may belong to an operation just starting.
constexpr int kGitLockGraceSeconds = 2;

void Add(RecoveryPlan* plan, const std::string& path, const std::string& kind,
         const std::string& reason) {
  auto* a = plan->add_actions();
  a->set_path(path);
  a->set_kind(kind);
  a->set_reason(reason);
}

// How long ago p changed. An mtime ahead of now means the wall clock went
// back: the file's age is then unknown, and it is left alone (0) rather than
// taken for old.
long AgeSeconds(const fs::path& p) {
  struct stat st;
  if (::stat(p.c_str(), &st) != 0) return 0;
  return std::max(0L, static_cast<long>(::time(nullptr) - st.st_mtime));
}

void BreakMkdirLocks(const std::string& locks_dir, RecoveryPlan* plan) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(locks_dir, ec)) {
    if (!entry.is_directory(ec)) continue;
    const std::string name = entry.path().filename().string();
    if (name.find(".broken.") != std::string::npos) continue;  // Someone is breaking it.
    std::ifstream in(entry.path() / "owner");
    std::string owner;
    std::getline(in, owner);
    std::string why;
    if (!in && owner.empty()) {
      if (AgeSeconds(entry.path()) < kOwnerlessGraceSeconds) continue;
      why = "no owner recorded for over " + std::to_string(kOwnerlessGraceSeconds) + "s";
    } else if (!procfs::OwnerAlive(owner)) {
      why = "owner '" + owner + "' is dead (or its pid was reused)";
    } else {
      continue;
    }
    // One rename wins among racing breakers (the same protocol as takers).
    const fs::path aside = entry.path().string() + ".broken." + std::to_string(::getpid());
    if (::rename(entry.path().c_str(), aside.c_str()) != 0) continue;
    fs::remove_all(aside, ec);
    Add(plan, entry.path().string(), "lock_broken", why);
  }
}

// NAME.tmp.PID -> PID, or 0.
pid_t TempOwner(const std::string& name) {
  size_t at = name.rfind(".tmp.");
  if (at == std::string::npos || at + 5 >= name.size()) return 0;
  const std::string digits = name.substr(at + 5);
  if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) return 0;
  return static_cast<pid_t>(std::stol(digits));
}

bool IsGitLock(const fs::path& p) {
  const std::string s = p.string();
  return p.extension() == ".lock" && s.find("/.git/") != std::string::npos;
}

void CleanTree(const std::string& dir, RecoveryPlan* plan) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (ec) break;
    const fs::path& p = it->path();
    const std::string name = p.filename().string();
    // Inside .git only the lock files matter; objects are many and never temp.
    if (it->is_directory(ec) && name == "objects") {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec)) continue;
    if (pid_t pid = TempOwner(name); pid > 0) {
      if (::kill(pid, 0) != 0 && errno == ESRCH) {
        if (::unlink(p.c_str()) == 0) {
          Add(plan, p.string(), "temp_removed",
              "an interrupted atomic write (process " + std::to_string(pid) + " is gone)");
        }
      }
      continue;
    }
    if (IsGitLock(p) && AgeSeconds(p) >= kGitLockGraceSeconds) {
      std::error_code rc;
      const fs::path real = fs::canonical(p, rc);
      if (!rc && !procfs::OpenByAnyProcess(real.string()) && ::unlink(p.c_str()) == 0) {
        Add(plan, p.string(), "lock_broken", "a Git lock no process has open");
      }
    }
  }
}

}  // namespace

void CleanLeftovers(const fleet::plugin::v1::RecoveryRequest& request, RecoveryPlan* plan) {
  if (!request.locks_dir().empty()) BreakMkdirLocks(request.locks_dir(), plan);
  for (const std::string& dir : request.temp_dirs()) CleanTree(dir, plan);
}

}  // namespace fleet::plugins::recovery
