// Kill conditions: an engine's `kill_condition` (say `errors > 100 ||
// drift > 0.3`) over the numbers its instances publish, as FLEET_METRIC
// lines in their output or as a JSON metrics file (`metrics_path`, watched,
// read once complete). Evaluated on every update; when it holds, the
// instance is killed and stays stopped until `fleetctl start`. What it
// reads is untrusted: a bad line or file is reported (once per new error)
// and the last good values stay.
#ifndef FLEET_CORE_MODULES_KILL_CONDITIONS_KILL_CONDITIONS_H_
#define FLEET_CORE_MODULES_KILL_CONDITIONS_KILL_CONDITIONS_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/killcond/expression.h"
#include "core/killcond/metrics.h"
#include "core/module/module.h"

namespace fleet::modules {

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
  struct Track {
    killcond::Metrics metrics;
    // FLEET_METRIC lines, per stream: two streams' pieces never mix.
    killcond::MetricLineScanner lines[2];
    std::string metrics_path;  // "{instance}" replaced; "" none
    std::string status;        // "clear (...)", "HOLDS: ...", "unknown: ..."
    std::string last_error;
  };
  // The instance's track when its engine has a condition; else null.
  Track* Find(const module::InstanceView& inst);
  void ReadMetricsFile(const module::InstanceView& inst, Track* track);
  void Evaluate(const module::InstanceView& inst, Track* track);

  module::ModuleHost* host_;
  // Parsed conditions by engine (validated at load).
  absl::flat_hash_map<std::string, killcond::Expression> conditions_;
  absl::flat_hash_map<std::string, Track> tracks_;  // by instance id
  // Metrics file -> the instances that read it; rebuilt when empty.
  absl::flat_hash_map<std::string, std::vector<std::string>> readers_;
};

}  // namespace fleet::modules

#endif  // FLEET_CORE_MODULES_KILL_CONDITIONS_KILL_CONDITIONS_H_
