// Which rotated log files to delete: those past their age cap, then the
// oldest until the logs directory fits its budget. Live logs are never
// deleted (a worker is writing them; rotation handles their size). Pure:
// the caller lists the files and deletes what this returns.
#ifndef FLEET_CORE_MODULES_LOG_HYGIENE_LOG_JANITOR_H_
#define FLEET_CORE_MODULES_LOG_HYGIENE_LOG_JANITOR_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace fleet::modules {

struct LogFile {
  std::string name;  // "ENGINE.N.log" or "ENGINE.N.log.K"
  uint64_t size = 0;
  absl::Time modified;
};

// True for a rotated file ("x.log.3"), false for a live one ("x.log").
bool IsRotatedLog(const std::string& name);

struct TrimPlan {
  std::vector<std::string> too_old;     // names
  std::vector<std::string> over_budget;  // names, oldest first
};

// max_age_of(name): the age cap of that file's engine (zero: none).
// budget: the directory's cap in bytes (0: none).
TrimPlan PlanLogTrim(std::vector<LogFile> files, absl::Time now,
                     const std::function<absl::Duration(const std::string&)>& max_age_of,
                     uint64_t budget);

}  // namespace fleet::modules

#endif  // FLEET_CORE_MODULES_LOG_HYGIENE_LOG_JANITOR_H_
