// The fleet file's validator, shared by validate.cc (the fleet, its engines)
// and validate_blocks.cc (backoff, state, recovery, dependencies). Internal
// to core/config: use validate.h.
#ifndef FLEET_CORE_CONFIG_VALIDATOR_H_
#define FLEET_CORE_CONFIG_VALIDATOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/yaml/source_map.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/message.h"
#include "proto/fleet/config/v1/config.pb.h"

namespace fleet::config {

// A duration left at zero gets millis.
inline void SetIfUnset(google::protobuf::Duration* d, int64_t millis) {
  if (d->seconds() == 0 && d->nanos() == 0) {
    d->set_seconds(millis / 1000);
    d->set_nanos(static_cast<int32_t>((millis % 1000) * 1000000));
  }
}

inline int64_t Millis(const google::protobuf::Duration& d) {
  return d.seconds() * 1000 + d.nanos() / 1000000;
}

// Checks a parsed fleet file and fills in every default, once; each error
// names where (file:line:column) and why.
class Validator {
 public:
  Validator(const std::string& base_dir, const yaml::SourceMap& map,
            std::vector<std::string>* errors, std::vector<std::string>* warnings)
      : base_dir_(base_dir), map_(map), errors_(errors), warnings_(warnings) {}

  void Run(fleet::config::v1::FleetConfig* config);

 private:
  void Error(const google::protobuf::Message* message, int field, const std::string& text,
             int index = -1);

  void CompleteLogs(fleet::config::v1::LogPolicy* logs, const fleet::config::v1::LogPolicy& fleet);

  void CheckIntelligence(fleet::config::v1::Engine* e);

  void CheckSchedule(const fleet::config::v1::Engine& e);

  void CheckEngine(fleet::config::v1::Engine* e, const fleet::config::v1::LogPolicy& fleet_logs);

  void CheckBackoff(fleet::config::v1::Backoff* b);

  void CheckRecovery(fleet::config::v1::FleetConfig* config);
  // metrics: listen's form, textfile's path (made absolute) and interval.
  void CheckMetrics(fleet::config::v1::FleetConfig* config);
  void CheckBus(const fleet::config::v1::FleetConfig& config);

  void CheckState(fleet::config::v1::FleetConfig* config);

  void CheckDependencies(
      const fleet::config::v1::FleetConfig& config,
      const absl::flat_hash_map<std::string, const fleet::config::v1::Engine*>& by_name);

  const std::string& base_dir_;
  const yaml::SourceMap& map_;
  std::vector<std::string>* errors_;
  std::vector<std::string>* warnings_;  // May be null.
};

}  // namespace fleet::config

#endif  // FLEET_CORE_CONFIG_VALIDATOR_H_
