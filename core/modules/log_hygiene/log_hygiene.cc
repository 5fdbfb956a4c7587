#include "core/modules/log_hygiene/log_hygiene.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/defaults/defaults.h"
#include "core/modules/log_hygiene/log_janitor.h"
#include "core/os/env.h"
#include "core/proto_time/proto_time.h"

namespace fleet::modules {
namespace {

constexpr absl::Duration kCheckEvery = absl::Seconds(10);
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

void LogHygiene::OnConfig(const config::LoadedConfig& loaded) {
  fleet_logs_ = loaded.config.logs();
  if (!due_.has_value()) due_ = host_->Now();
}

void LogHygiene::OnInstanceAdded(const module::InstanceView& inst) { inst.log.SetPaused(paused_); }

LogHygiene::~LogHygiene() = default;  // worker_ joins its thread first.

void LogHygiene::OnDeadline() {
  due_ = host_->Now() + kCheckEvery;
  if (pass_running_) return;  // A slow disk: one pass at a time.
  // Copied here; every stat is made on the worker (ten thousand logs are
  // ten thousand lstats, not for the loop).
  Pass pass{defaults::LogsDir(host_->run_dir()), fleet_logs_, {}, host_->WallNow(), {}};
  host_->ForEachInstance([&pass](const module::InstanceView& inst) {
    pass.max_age[inst.spec.name()] = FromProto(inst.spec.logs().max_age());  // Zero: none.
    if (uint64_t inode = inst.log.open_inode(); inode != 0) {
      pass.open_logs.emplace_back(inst.id, inst.log.path(), inode);
    }
  });
  pass_running_ = worker_.Submit([this, pass = std::move(pass)] {
    PassResult result = RunPass(pass);
    host_->Post([this, result = std::move(result)] {
      pass_running_ = false;
      // Checked again here: the log may have been reopened meanwhile.
      for (const std::string& id : result.replaced) {
        host_->WithInstance(id, [this](const module::InstanceView& inst) {
          if (!inst.log.ReopenIfReplaced()) return;
          host_->Emit(inst.id, "log_reopened",
                      absl::StrCat(inst.log.path(),
                                   " was deleted or replaced while open: its output goes to a new "
                                   "file at that path"));
        });
      }
      if (result.free.has_value()) OnFreeSpace(*result.free);
    });
  });
}

LogHygiene::PassResult LogHygiene::RunPass(const Pass& pass) {
  PassResult result;
  for (const auto& [id, path, inode] : pass.open_logs) {
    struct stat at_path;
    if (::lstat(path.c_str(), &at_path) != 0 || at_path.st_ino != inode) {
      result.replaced.push_back(id);
    }
  }
  TrimDirectory(pass);
  struct statvfs vfs;
  if (pass.fleet_logs.min_free_size() != 0 && ::statvfs(pass.dir.c_str(), &vfs) == 0) {
    result.free = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  }
  return result;
}

void LogHygiene::OnFreeSpace(uint64_t free) {
  const uint64_t floor = fleet_logs_.min_free_size();
  if (floor == 0) return;
  if (!paused_ && free < floor) {
    paused_ = true;
    host_->Emit("fleetd", "logs_paused",
                absl::StrCat("only ", MiB(free), " free where the logs are (floor ", MiB(floor),
                             "): output is dropped and counted until space returns"));
  } else if (paused_ && free > floor * kResumeHeadroom) {
    paused_ = false;
    uint64_t dropped = 0;
    host_->ForEachInstance(
        [&dropped](const module::InstanceView& inst) { dropped += inst.log.dropped_bytes(); });
    host_->Emit("fleetd", "logs_resumed",
                absl::StrCat(MiB(free), " free again: writing logs; ", dropped,
                             " bytes of output were dropped in all"));
  } else {
    return;
  }
  host_->ForEachInstance([this](const module::InstanceView& inst) { inst.log.SetPaused(paused_); });
}

void LogHygiene::TrimDirectory(const Pass& pass) {
  const std::string& dir = pass.dir;
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
  // A file of an engine no longer declared gets the fleet's cap.
  const absl::Duration fleet_cap = FromProto(pass.fleet_logs.max_age());
  auto max_age_of = [&](const std::string& name) {
    auto it = pass.max_age.find(EngineOfLog(name));
    return it == pass.max_age.end() ? fleet_cap : it->second;
  };
  TrimPlan plan =
      PlanLogTrim(std::move(files), pass.now, max_age_of, pass.fleet_logs.total_max_size());
  int removed_old = 0, removed_budget = 0;
  for (const std::string& name : plan.too_old) {
    removed_old += os::CurrentEnv()->Unlink((dir + "/" + name).c_str()) == 0;
  }
  for (const std::string& name : plan.over_budget) {
    removed_budget += os::CurrentEnv()->Unlink((dir + "/" + name).c_str()) == 0;
  }
  if (removed_old + removed_budget > 0) {
    host_->Emit(
        "fleetd", "logs_trimmed",
        absl::StrCat("deleted ", removed_old + removed_budget, " rotated log files (", removed_old,
                     " past their age cap, ", removed_budget, " over the logs budget of ",
                     MiB(pass.fleet_logs.total_max_size()), ")"));
  }
}

}  // namespace fleet::modules
