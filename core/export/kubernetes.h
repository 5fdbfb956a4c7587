// A fleet file as Kubernetes objects: daemons as Deployments (one
// replica) or StatefulSets (several, or `state: true`: FLEET_INSTANCE is
// the pod's ordinal), cron and intelligence engines as CronJobs, health as
// probes (tcp and http natively; heartbeat and log files through
// `fleetctl probe`, which must be in the image). What Kubernetes cannot
// express is a comment in the manifest and a warning.
#ifndef FLEET_CORE_EXPORT_KUBERNETES_H_
#define FLEET_CORE_EXPORT_KUBERNETES_H_

#include <string>

#include "absl/status/statusor.h"
#include "core/config/loader.h"
#include "core/export/exported.h"

namespace fleet::exporting {

struct KubernetesOptions {
  std::string image;       // holds the workload and fleet's binaries (required)
  std::string namespace_;  // "" for kubectl's current one
  bool approximate = false;
  // The size the work-bus's ReadWriteMany volume asks for.
  std::string bus_storage = "1Gi";
};

absl::StatusOr<Exported> ExportKubernetes(const config::LoadedConfig& loaded,
                                          const KubernetesOptions& options);

// An engine name as a Kubernetes object name (DNS-1123: lowercase
// letters, digits and '-', at most 52 characters so a CronJob's Jobs fit).
std::string KubernetesName(const std::string& fleet, const std::string& engine);

}  // namespace fleet::exporting

#endif  // FLEET_CORE_EXPORT_KUBERNETES_H_
