// Calls made to each loaded plugin and how many failed, counted as they
// are made (on whichever worker makes them) and read for metrics.
#ifndef FLEET_CORE_PLUGIN_HOST_CALL_STATS_H_
#define FLEET_CORE_PLUGIN_HOST_CALL_STATS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/concurrency/mutex.h"
#include "core/plugin_host/caller.h"

namespace fleet::plugin_host {

// Thread-safe.
class CallStats {
 public:
  struct Counts {
    std::atomic<uint64_t> calls{0};
    std::atomic<uint64_t> failures{0};  // an error, a timeout, a crashed helper
  };
  // The counters of one plugin (kind: "health", "sync", "recovery"; name:
  // what it calls itself). Lives as long as the CallStats.
  Counts* For(const std::string& kind, const std::string& name);

  struct Row {
    std::string kind;
    std::string name;
    uint64_t calls;
    uint64_t failures;
  };
  // Every plugin's counts, by kind and name.
  std::vector<Row> Snapshot() const;

 private:
  mutable fleet::Mutex mu_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<Counts>> counts_
      ABSL_GUARDED_BY(mu_);
};

// inner, with each call counted in counts.
std::unique_ptr<PluginCaller> Counted(std::unique_ptr<PluginCaller> inner,
                                      CallStats::Counts* counts);

}  // namespace fleet::plugin_host

#endif  // FLEET_CORE_PLUGIN_HOST_CALL_STATS_H_
