// Log hygiene, loop side: every kLogCheckEvery the logs directory is checked
// against the free-disk floor (below it, every sink drops and counts output
// instead of filling the disk; with some headroom back, writing resumes), the
// engines' age caps and the directory's budget (oldest rotated files go
// first; live logs never), and a live log deleted or replaced under fleetd
// is opened again at its path. Write failures (disk full, read-only, EIO) are
// reported once when they start and once when they stop. Loop thread only.
#include <dirent.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "core/defaults/defaults.h"
#include "core/supervisor/log_janitor.h"
#include "core/supervisor/supervisor.h"
#include "core/supervisor/supervisor_internal.h"

namespace fleet::supervisor {
namespace {

constexpr absl::Duration kLogCheckEvery = absl::Seconds(10);
// Writing resumes only with this much more than the floor free, so a disk
// hovering at the floor does not flap.
constexpr double kResumeHeadroom = 1.1;

std::string MiB(uint64_t bytes) { return absl::StrCat(bytes >> 20, " MiB"); }

// "ENGINE" of "ENGINE.N.log[.K]".
std::string EngineOfLog(const std::string& name) {
  size_t log = name.rfind(".log");
  if (log == std::string::npos) return "";
  size_t dot = name.rfind('.', log - 1);
  return dot == std::string::npos ? "" : name.substr(0, dot);
}

}  // namespace

void Supervisor::NoteLogWriteState(Instance* inst) {
  const absl::Status& error = inst->log->last_error();
  inst->log_failing = !error.ok();
  if (inst->log_failing) {
    Emit(inst->id, "log_write_failed",
         absl::StrCat(error.message(), "; its output is dropped and counted until writes succeed "
                                       "again (the worker is not touched)"));
  } else {
    Emit(inst->id, "log_write_resumed",
         absl::StrCat("writing its log again; ", inst->log->dropped_bytes(),
                      " bytes of output dropped so far"));
  }
}

void Supervisor::RunLogJanitor() {
  if (!log_check_due_.has_value() || *log_check_due_ > now_) return;
  log_check_due_ = now_ + kLogCheckEvery;
  const std::string dir = defaults::LogsDir(options_.run_dir);

  struct statvfs vfs;
  if (::statvfs(dir.c_str(), &vfs) == 0 && fleet_logs_.min_free_size() > 0) {
    const uint64_t free = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    const uint64_t floor = fleet_logs_.min_free_size();
    bool change = false;
    if (!logs_paused_ && free < floor) {
      logs_paused_ = change = true;
      Emit("fleetd", "logs_paused",
           absl::StrCat("only ", MiB(free), " free where the logs are (floor ", MiB(floor),
                        "): output is dropped and counted until space returns"));
    } else if (logs_paused_ && free > floor * kResumeHeadroom) {
      logs_paused_ = false;
      change = true;
      uint64_t dropped = 0;
      for (auto& [name, engine] : engines_) {
        for (auto& inst : engine->instances) dropped += inst->log->dropped_bytes();
      }
      Emit("fleetd", "logs_resumed",
           absl::StrCat(MiB(free), " free again: writing logs; ", dropped,
                        " bytes of output were dropped in all"));
    }
    if (change) {
      for (auto& [name, engine] : engines_) {
        for (auto& inst : engine->instances) inst->log->SetPaused(logs_paused_);
      }
    }
  }

  for (auto& [name, engine] : engines_) {
    for (auto& inst : engine->instances) {
      if (inst->log->ReopenIfReplaced()) {
        Emit(inst->id, "log_reopened",
             absl::StrCat(inst->log->path(), " was deleted or replaced while open: its output "
                                             "goes to a new file at that path"));
      }
    }
  }

  std::vector<LogFile> files;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name.find(".log") == std::string::npos) continue;
      struct stat st;
      if (::lstat((dir + "/" + name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      files.push_back({name, static_cast<uint64_t>(st.st_size), absl::FromTimeT(st.st_mtime)});
    }
    ::closedir(d);
  }
  const absl::Duration fleet_cap = FromProto(fleet_logs_.max_age());
  auto max_age_of = [&](const std::string& name) {
    auto it = engines_.find(EngineOfLog(name));
    return it == engines_.end() ? fleet_cap : FromProto(it->second->spec->logs().max_age());
  };
  TrimPlan plan =
      PlanLogTrim(std::move(files), clock_->WallNow(), max_age_of, fleet_logs_.total_max_size());
  int removed_old = 0, removed_budget = 0;
  for (const std::string& name : plan.too_old) removed_old += ::unlink((dir + "/" + name).c_str()) == 0;
  for (const std::string& name : plan.over_budget) {
    removed_budget += ::unlink((dir + "/" + name).c_str()) == 0;
  }
  if (removed_old + removed_budget > 0) {
    Emit("fleetd", "logs_trimmed",
         absl::StrCat("deleted ", removed_old + removed_budget, " rotated log files (", removed_old,
                      " past their age cap, ", removed_budget, " over the logs budget of ",
                      MiB(fleet_logs_.total_max_size()), ")"));
  }
}

}  // namespace fleet::supervisor
