// fleetctl status, and everything built on it (metrics, the exporter): the
// rows built on the loop a slice at a time, fleetd's own figures, and what
// each instance uses read off the loop.
#ifndef FLEET_CORE_SUPERVISOR_STATUS_REPORTER_H_
#define FLEET_CORE_SUPERVISOR_STATUS_REPORTER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/module/module.h"
#include "core/os/clock.h"
#include "core/stats/latency_histogram.h"
#include "core/supervisor/event_log.h"
#include "core/supervisor/event_loop.h"
#include "core/supervisor/instance_table.h"
#include "core/supervisor/usage_sampler.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::supervisor {

// Status rows built per loop iteration: ~1 ms of the loop's time.
inline constexpr size_t kStatusRowsPerSlice = 256;

// What the loop measures of itself (written by the loop, read on it).
struct LoopHealth {
  absl::Duration lag;      // lateness of the last timer run
  absl::Duration max_lag;  // and the worst
  stats::LatencyHistogram passes;
  std::optional<os::MonoTime> watchdog_due;  // systemd's watchdog is pinged

  void Fill(fleet::control::v1::DaemonStatus* daemon) const;
};

class StatusReporter {
 public:
  // Everything must outlive the reporter; table, modules and health are
  // read on the loop only.
  struct Sources {
    std::string run_dir;
    os::Clock* clock;
    EventLog* events;
    EventLoop* loop;
    const InstanceTable* table;
    const std::vector<std::unique_ptr<module::Module>>* modules;
    const LoopHealth* health;
  };
  explicit StatusReporter(Sources sources);

  // Loop thread: the config applied last.
  void SetConfig(std::string fleet_name, std::string config_path) {
    fleet_name_ = std::move(fleet_name);
    config_path_ = std::move(config_path);
  }

  // Any thread: the status, built on the loop kStatusRowsPerSlice rows at a
  // time (exits, timers and commands are handled between slices, so ten
  // thousand rows delay none of them by more than a slice), then handed to
  // done on the loop. False once the loop has finished: done is not called.
  // with_metrics: the modules' series too (Module::FillMetrics).
  bool Build(std::function<void(fleet::control::v1::GetStatusResponse)> done,
             bool with_metrics = false);
  // Any thread but the loop's: a whole status (Build) with usage filled in
  // (FillUsage), waited for up to `timeout`. kUnavailable once the loop has
  // finished, kDeadlineExceeded when it did not answer in time.
  absl::StatusOr<fleet::control::v1::GetStatusResponse> Await(absl::Duration timeout,
                                                              bool with_metrics = false);
  // Any thread, on a status built on the loop: what each running instance
  // uses (CPU, memory) and fleetd's own memory and descriptors, read here
  // rather than on the loop (a directory of 30,000 descriptors is not a
  // quick read).
  void FillUsage(fleet::control::v1::GetStatusResponse* status);
  // Loop thread: the whole status in one go (for tests, which hold the loop).
  fleet::control::v1::GetStatusResponse Whole() const;

 private:
  // A status answer under way (Build).
  struct Building {
    fleet::control::v1::GetStatusResponse status;
    StatusCursor cursor;
    bool with_metrics = false;
    std::function<void(fleet::control::v1::GetStatusResponse)> done;
  };
  // One slice of it; the next is posted, or the answer handed over.
  void Continue(std::shared_ptr<Building> build);
  // Everything but the rows: fleetd's own figures and the modules'.
  void FillFleet(fleet::control::v1::GetStatusResponse* status, bool with_metrics) const;

  const Sources sources_;
  const absl::Time started_wall_;
  const os::MonoTime started_mono_;
  std::string fleet_name_;
  std::string config_path_;
  UsageSampler usage_;
};

}  // namespace fleet::supervisor

#endif  // FLEET_CORE_SUPERVISOR_STATUS_REPORTER_H_
