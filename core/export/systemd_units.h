// A fleet file as systemd units: per engine a template service
// (fleet-ENGINE@.service, instance N is %i and FLEET_INSTANCE), a timer for
// scheduled and cycle engines, and a target grouping the fleet
// (fleet-FLEET.target). What systemd cannot express is said in the unit as
// a comment and returned as a warning; a schedule systemd would fire at
// other times than fleet is refused unless `approximate`.
#ifndef FLEET_CORE_EXPORT_SYSTEMD_UNITS_H_
#define FLEET_CORE_EXPORT_SYSTEMD_UNITS_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/config/loader.h"
#include "core/export/exported.h"

namespace fleet::exporting {

struct SystemdOptions {
  bool approximate = false;
  // Schedules are checked from here on (clock changes over 30 years).
  absl::Time now = absl::Now();
  // The fleetd the units run for shared state (`fleetd sync-state`) and
  // kill conditions (`fleetd kill-watch`): an absolute path (the exporting
  // fleetd's own).
  std::string fleetd = "/usr/local/bin/fleetd";
};

absl::StatusOr<Exported> ExportSystemd(const config::LoadedConfig& loaded,
                                       const SystemdOptions& options);

// One argument as systemd's command-line syntax reads it back exactly
// (quoted; `%` and `$` doubled; backslash, quote and newline escaped).
std::string SystemdQuote(const std::string& arg);

}  // namespace fleet::exporting

#endif  // FLEET_CORE_EXPORT_SYSTEMD_UNITS_H_
