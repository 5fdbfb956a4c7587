// Log hygiene: every 10 s the logs directory is checked against the
// free-disk floor (below it, every instance's log drops and counts output
// instead of filling the disk; with some headroom back, writing resumes),
// the engines' age caps and the directory's budget (oldest rotated files go
// first; live logs never), and a live log deleted or replaced under fleetd
// is opened again at its path. The writing itself (and its failures) is
// the core's: it captures the output. The directory's listing, its unlinks
// and the free-space reading run on the module's worker, never on the loop;
// the loop only pauses or resumes the logs on the answer.
#ifndef FLEET_CORE_MODULES_LOG_HYGIENE_LOG_HYGIENE_H_
#define FLEET_CORE_MODULES_LOG_HYGIENE_LOG_HYGIENE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/time/time.h"
#include "core/module/module.h"
#include "core/plugin_host/worker.h"
#include "proto/fleet/config/v1/config.pb.h"

namespace fleet::modules {

class LogHygiene final : public module::Module {
 public:
  explicit LogHygiene(module::ModuleHost* host) : host_(host) {}
  ~LogHygiene() override;

  absl::string_view name() const override { return "log_hygiene"; }
  void OnConfig(const config::LoadedConfig& loaded) override;
  void OnInstanceAdded(const module::InstanceView& inst) override;
  std::optional<os::MonoTime> NextDeadline() const override { return due_; }
  void OnDeadline() override;

 private:
  // What a pass needs, copied for the worker.
  struct Pass {
    std::string dir;
    fleet::config::v1::LogPolicy fleet_logs;
    std::map<std::string, absl::Duration> max_age;  // by engine
    absl::Time now;
    // Each open log: instance id, path, the inode it has open.
    std::vector<std::tuple<std::string, std::string, uint64_t>> open_logs;
  };
  struct PassResult {
    std::optional<uint64_t> free;  // bytes free there (nullopt: no floor, or unknown)
    // Instances whose log's path no longer names the file it has open.
    std::vector<std::string> replaced;
  };
  // Worker: trims the directory, looks at each open log's path.
  PassResult RunPass(const Pass& pass);
  void TrimDirectory(const Pass& pass);
  // Loop: pauses or resumes every log on a free-space reading.
  void OnFreeSpace(uint64_t free);

  module::ModuleHost* host_;
  plugin_host::SerialWorker worker_;
  bool pass_running_ = false;
  fleet::config::v1::LogPolicy fleet_logs_;
  std::optional<os::MonoTime> due_;
  // Below the free-disk floor: every log drops output.
  bool paused_ = false;
};

}  // namespace fleet::modules

#endif  // FLEET_CORE_MODULES_LOG_HYGIENE_LOG_HYGIENE_H_
