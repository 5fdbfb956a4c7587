// Log hygiene: every 10 s the logs directory is checked against the
// free-disk floor (below it, every instance's log drops and counts output
// instead of filling the disk; with some headroom back, writing resumes),
// the engines' age caps and the directory's budget (oldest rotated files go
// first; live logs never), and a live log deleted or replaced under fleetd
// is opened again at its path. The writing itself (and its failures) is
// the core's: it captures the output.
#ifndef FLEET_CORE_MODULES_LOG_HYGIENE_LOG_HYGIENE_H_
#define FLEET_CORE_MODULES_LOG_HYGIENE_LOG_HYGIENE_H_

#include <optional>

#include "core/module/module.h"
#include "proto/fleet/config/v1/config.pb.h"

namespace fleet::modules {

class LogHygiene final : public module::Module {
 public:
  explicit LogHygiene(module::ModuleHost* host) : host_(host) {}

  absl::string_view name() const override { return "log_hygiene"; }
  void OnConfig(const config::LoadedConfig& loaded) override;
  void OnInstanceAdded(const module::InstanceView& inst) override;
  std::optional<os::MonoTime> NextDeadline() const override { return due_; }
  void OnDeadline() override;

 private:
  void CheckFreeSpace(const std::string& dir);
  void TrimDirectory(const std::string& dir);

  module::ModuleHost* host_;
  fleet::config::v1::LogPolicy fleet_logs_;
  std::optional<os::MonoTime> due_;
  // Below the free-disk floor: every log drops output.
  bool paused_ = false;
};

}  // namespace fleet::modules

#endif  // FLEET_CORE_MODULES_LOG_HYGIENE_LOG_HYGIENE_H_
