#include "plugins/recovery/guard.h"

#include <fnmatch.h>
#include <glob.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <vector>

#include "plugins/formats/state_file_check.h"
#include "plugins/sdk/untrusted_file.h"
#include "plugins/recovery/snapshots.h"

namespace fleet::plugins::recovery {
namespace {

namespace fs = std::filesystem;

// A protected file is state a worker writes: bounded, as every read of it.
constexpr size_t kMaxProtectedFileBytes = 256u << 20;
using fleet::plugin::v1::ProtectedRule;
using fleet::plugin::v1::RecoveryAction;
using fleet::plugin::v1::RecoveryPlan;
using fleet::plugin::v1::RecoveryRequest;

bool IsGlob(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

std::vector<std::string> Expand(const std::string& pattern) {
  std::vector<std::string> out;
  if (!IsGlob(pattern)) {
    out.push_back(pattern);
    return out;
  }
  glob_t g{};
  if (::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) out.push_back(g.gl_pathv[i]);
  }
  ::globfree(&g);
  return out;
}

void Add(RecoveryPlan* plan, const std::string& path, const std::string& kind,
         const std::string& reason, const std::string& detail = "") {
  RecoveryAction* a = plan->add_actions();
  a->set_path(path);
  a->set_kind(kind);
  a->set_reason(reason);
  a->set_detail(detail);
}

// Why content is not a good version of path under rule ("" when it is).
std::string Judge(const std::string& path, const std::string& content, const ProtectedRule& rule,
                  const std::optional<std::string>& last_good) {
  if (content.empty()) return "empty";
  if (rule.min_size_ratio() > 0 && last_good.has_value() && !last_good->empty() &&
      content.size() < rule.min_size_ratio() * last_good->size()) {
    return "shrank to " + std::to_string(content.size() * 100 / last_good->size()) + "% of " +
           std::to_string(last_good->size()) + " bytes";
  }
  std::vector<std::string> keys(rule.required_keys().begin(), rule.required_keys().end());
  return formats::CheckStateFile(path, content, rule.format(), keys);
}

std::string QuarantineName(const std::string& dir, const std::string& path) {
  std::string base = fs::path(path).filename().string();
  return dir + "/" + base + "." + std::to_string(::time(nullptr)) + "." +
         std::to_string(::getpid()) + ".bad";
}

}  // namespace

void GuardFiles(const RecoveryRequest& request, const GuardOptions& options, RecoveryPlan* plan) {
  SnapshotStore store(request.snapshot_dir(), request.keep_snapshots());
  bool all_good = true;
  std::set<std::string> seen;
  for (const ProtectedRule& rule : request.rules()) {
    for (const std::string& path : Expand(rule.glob())) {
      if (!seen.insert(path).second) continue;  // The first rule that matches decides.
      struct stat st;
      std::string id;
      std::optional<std::string> last_good = store.Latest(path, &id);
      if (::lstat(path.c_str(), &st) != 0) {
        // A named file that is gone while a good version exists was clobbered
        // by deletion; a glob simply no longer matches it.
        if (IsGlob(rule.glob()) || !last_good.has_value()) continue;
      } else {
        // A symlink, FIFO or device in a protected file's place is not read
        // (a FIFO would block this pass forever, /dev/zero never end).
        if (!S_ISREG(st.st_mode)) {
          Add(plan, path, "error", "not a regular file (a symlink, FIFO or device): not checked");
          all_good = false;
          continue;
        }
        // An mtime ahead of now (the wall clock went back) cannot say the
        // file is being written: judged now rather than once the clock
        // catches up, hours later perhaps.
        // Millisecond precision: whole seconds would cut the settle time to
        // anything between 0 and 1s (a write 5ms before a second ticks over).
        struct timespec now;
        ::clock_gettime(CLOCK_REALTIME, &now);
        const long long age_ms = (now.tv_sec - st.st_mtim.tv_sec) * 1000LL +
                                 (now.tv_nsec - st.st_mtim.tv_nsec) / 1000000LL;
        if (options.settle_ms > 0 && age_ms >= 0 && age_ms < options.settle_ms) {
          continue;  // Maybe mid-write: judged on the next pass.
        }
      }
      plan->set_checked(plan->checked() + 1);
      sdk::UntrustedRead read = sdk::ReadUntrustedFile(path, kMaxProtectedFileBytes);
      if (read.error == sdk::ReadError::kTooLarge || read.error == sdk::ReadError::kRead ||
          read.error == sdk::ReadError::kNotRegular || read.error == sdk::ReadError::kSymlink) {
        Add(plan, path, "error", read.message + ": not checked");
        all_good = false;
        continue;
      }
      const std::string content = std::move(read.content);
      const bool missing = !read.ok();
      const std::string why = missing ? "deleted" : Judge(path, content, rule, last_good);
      if (why.empty()) {
        bool recorded = false;
        if (std::string error = store.Record(path, content, &recorded); !error.empty()) {
          Add(plan, path, "error", "cannot snapshot: " + error);
        } else if (recorded) {
          Add(plan, path, "snapshotted", "", id);
        }
        continue;
      }
      all_good = false;
      if (!last_good.has_value()) {
        Add(plan, path, "no_snapshot", why + "; no good version is known to put back");
        continue;
      }
      std::error_code ec;
      fs::create_directories(request.quarantine_dir(), ec);
      std::string kept;
      if (!missing) {
        kept = QuarantineName(request.quarantine_dir(), path);
        if (std::string error = WriteAtomically(kept, content); !error.empty()) {
          // Never overwrite what cannot be kept.
          Add(plan, path, "error", why + "; not restored, it cannot be quarantined: " + error);
          continue;
        }
      }
      if (std::string error = WriteAtomically(path, *last_good); !error.empty()) {
        Add(plan, path, "error", why + "; cannot restore: " + error, kept);
        continue;
      }
      Add(plan, path, "restored", why, id);
      if (!kept.empty()) Add(plan, path, "quarantined", why, kept);
    }
  }
  plan->set_all_good(all_good);
}

}  // namespace fleet::plugins::recovery
