// Kill conditions: an engine's `kill_condition` (say `errors > 100 ||
// drift > 0.3`) over the numbers its instances publish, as FLEET_METRIC
// lines in their output or as a JSON metrics file (`metrics_path`, watched,
// read once complete). Evaluated on every update; when it holds, the
// instance is killed and stays stopped until `fleetctl start`. What it
// reads is untrusted: a bad line or file is reported (once per new error)
// and the last good values stay.
//
// The same values are the instance's app metrics (status, fleet_app_*):
// kept for engines with a condition, and for every engine when the fleet
// file has a metrics block (reading every engine's output for them costs a
// scan of each line, paid only when someone collects them). An instance
// keeps at most kMaxAppMetrics names: a worker printing ever new names
// cannot grow fleetd.
#ifndef FLEET_CORE_MODULES_KILL_CONDITIONS_KILL_CONDITIONS_H_
#define FLEET_CORE_MODULES_KILL_CONDITIONS_KILL_CONDITIONS_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/killcond/expression.h"
#include "core/killcond/metrics.h"
#include "core/module/module.h"

namespace fleet::modules {

inline constexpr size_t kMaxAppMetrics = 100;

// spec.metrics_path with "{instance}" replaced by index ("" when unset).
std::string MetricsPathFor(const fleet::config::v1::Engine& spec, uint32_t index);

class KillConditions final : public module::Module {
 public:
  explicit KillConditions(module::ModuleHost* host) : host_(host) {}

  absl::string_view name() const override { return "kill_conditions"; }
  void OnConfig(const config::LoadedConfig& loaded) override;
  void OnInstanceAdded(const module::InstanceView& inst) override;
  void OnInstanceRemoved(const std::string& id) override;
  void OnSpawned(const module::InstanceView& inst) override;
  void OnOutput(const module::InstanceView& inst, capture::Stream stream,
                absl::string_view data) override;
  void WatchedFiles(std::vector<std::string>* paths) const override;
  void OnFileChanged(const std::string& path, bool complete) override;
  void FillInstanceStatus(const module::InstanceView& inst,
                          fleet::control::v1::InstanceStatus* out) const override;

 private:
  bool Collects(const std::string& engine) const {
    return collect_all_ || conditions_.contains(engine);
  }
  struct Track {
    killcond::Metrics metrics;
    // FLEET_METRIC lines, per stream: two streams' pieces never mix.
    killcond::MetricLineScanner lines[2];
    std::string metrics_path;  // "{instance}" replaced; "" none
    std::string status;        // "clear (...)", "HOLDS: ...", "unknown: ..."
    std::string last_error;
    bool over_cap = false;  // said that names were dropped
  };
  // The instance's track when its values are collected; else null.
  Track* Find(const module::InstanceView& inst);
  // New values into track: past kMaxAppMetrics names, new ones are dropped
  // (said once).
  void Merge(const module::InstanceView& inst, Track* track, const killcond::Metrics& values);
  void ReadMetricsFile(const module::InstanceView& inst, Track* track);
  void Evaluate(const module::InstanceView& inst, Track* track);

  module::ModuleHost* host_;
  // Parsed conditions by engine (validated at load).
  absl::flat_hash_map<std::string, killcond::Expression> conditions_;
  // The fleet exports metrics: every engine's values are collected.
  bool collect_all_ = false;
  absl::flat_hash_map<std::string, Track> tracks_;  // by instance id
  // Metrics file -> the instances that read it; rebuilt when empty.
  absl::flat_hash_map<std::string, std::vector<std::string>> readers_;
};

}  // namespace fleet::modules

#endif  // FLEET_CORE_MODULES_KILL_CONDITIONS_KILL_CONDITIONS_H_
