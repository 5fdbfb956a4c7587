// The pod of one exported engine: the worker's container (its command,
// env, probes, and what fleet does around it: FLEET_INSTANCE from the
// ordinal, the state pulled before each start, the kill condition through
// `fleetd kill-watch`), and for shared state the init container and
// sidecar that run `fleetd sync-state`. Internal to the Kubernetes export.
#ifndef FLEET_CORE_EXPORT_KUBERNETES_POD_H_
#define FLEET_CORE_EXPORT_KUBERNETES_POD_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "core/config/loader.h"
#include "core/export/exported.h"
#include "core/export/kubernetes.h"
#include "core/export/yaml_writer.h"

namespace fleet::exporting::k8s {

// Where fleet's pieces live in every pod.
inline constexpr char kStateMount[] = "/var/lib/fleet/state";
inline constexpr char kStateTree[] = "/var/lib/fleet/state/tree";  // FLEET_STATE_DIR
inline constexpr char kKillMount[] = "/var/lib/fleet/kill";
inline constexpr char kKillMarker[] = "/var/lib/fleet/kill/stopped";
// The bus's ReadWriteMany volume holds the conductor's whole run dir (the
// conductor's fleetd makes it, as its own uid, 0700; a volume's root is
// not its own), whose bus/ is what workers claim from.
inline constexpr char kSharedMount[] = "/var/lib/fleet/shared";
inline constexpr char kRunDir[] = "/var/lib/fleet/shared/run";  // FLEET_RUN_DIR of bus workers

// One engine on its way to objects, and what does not carry over.
struct Engine {
  const config::LoadedConfig& loaded;
  int index;
  std::string name;   // the Kubernetes name
  std::string fleet;  // the fleet's Kubernetes name
  bool ordinal;       // a StatefulSet's pod: FLEET_INSTANCE is its ordinal
  std::vector<Lost> lost;

  const fleet::config::v1::Engine& spec() const { return loaded.config.engines(index); }
  // The engine works in a Git work tree of the fleet's state.
  bool state() const { return spec().state() && !loaded.config.state().remote().empty(); }
  bool bus() const { return spec().capabilities_size() > 0; }
  void Lose(int field, std::string what) { lost.push_back({field, std::move(what)}); }
};

// The pod spec (restart: "Always" or "Never").
Yaml PodSpec(Engine* e, const KubernetesOptions& options, const char* restart);

// The PersistentVolumeClaim the bus's directory is on (ReadWriteMany).
std::string BusClaimName(const std::string& fleet);

}  // namespace fleet::exporting::k8s

#endif  // FLEET_CORE_EXPORT_KUBERNETES_POD_H_
