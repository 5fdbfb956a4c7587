// A fleet file as a Nomad job (the JSON `nomad job run -json` and the
// jobs API take): one job per fleet; each daemon engine a task group of
// `replicas` allocations (FLEET_INSTANCE from NOMAD_ALLOC_INDEX), each cron
// and intelligence engine a periodic batch job of its own. There is no
// Nomad here: the structure is checked against the job specification's
// documented fields (nomad_test), and what Nomad cannot express is said.
#ifndef FLEET_CORE_EXPORT_NOMAD_H_
#define FLEET_CORE_EXPORT_NOMAD_H_

#include "absl/status/statusor.h"
#include "core/config/loader.h"
#include "core/export/exported.h"

namespace fleet::exporting {

struct NomadOptions {
  bool approximate = false;
};

absl::StatusOr<Exported> ExportNomad(const config::LoadedConfig& loaded,
                                     const NomadOptions& options);

}  // namespace fleet::exporting

#endif  // FLEET_CORE_EXPORT_NOMAD_H_
