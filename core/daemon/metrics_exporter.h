// What fleetd offers Prometheus, both opt-in (`metrics:` in the fleet
// file): the /metrics listener (core/metrics/http_listener) and a textfile
// for node_exporter's textfile collector, rewritten atomically every
// interval. Both render on their own threads from a status the loop builds
// a slice at a time: a scrape never holds supervision.
#ifndef FLEET_CORE_DAEMON_METRICS_EXPORTER_H_
#define FLEET_CORE_DAEMON_METRICS_EXPORTER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "core/concurrency/mutex.h"
#include "core/metrics/exposition.h"
#include "core/metrics/http_listener.h"
#include "proto/fleet/config/v1/config.pb.h"

namespace fleet::daemon {

class MetricsExporter {
 public:
  // The exposition now, or nullopt (the loop did not answer).
  using Render = std::function<std::optional<std::string>(metrics::Format)>;

  // Starts what config asks for (nothing when it asks for nothing); an
  // error says what could not be started.
  // healthy: fleetd's loop answers (for /healthz).
  static absl::StatusOr<std::unique_ptr<MetricsExporter>> Start(
      const fleet::config::v1::Metrics& config, Render render, std::function<bool()> healthy);
  ~MetricsExporter();  // The textfile thread and the listener stop.

  // Where the listener listens ("" without one).
  std::string address() const { return listener_ ? listener_->address() : ""; }

 private:
  MetricsExporter(fleet::config::v1::Metrics config, Render render);
  void WriteTextfiles();

  const fleet::config::v1::Metrics config_;
  const Render render_;
  std::unique_ptr<metrics::HttpListener> listener_;
  fleet::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread textfile_thread_;
};

}  // namespace fleet::daemon

#endif  // FLEET_CORE_DAEMON_METRICS_EXPORTER_H_
