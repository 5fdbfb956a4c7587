#include "core/metrics/fleet_metrics.h"

#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/stats/latency_histogram.h"

namespace fleet::metrics {
namespace {

namespace ctl = ::fleet::control::v1;

// The states a status shows, as their label values.
constexpr std::pair<ctl::InstanceState, const char*> kStates[] = {
    {ctl::INSTANCE_STATE_STOPPED, "stopped"},   {ctl::INSTANCE_STATE_WAITING, "waiting"},
    {ctl::INSTANCE_STATE_STARTING, "starting"}, {ctl::INSTANCE_STATE_RUNNING, "running"},
    {ctl::INSTANCE_STATE_BACKOFF, "backoff"},   {ctl::INSTANCE_STATE_STOPPING, "stopping"},
    {ctl::INSTANCE_STATE_EXITED, "exited"},     {ctl::INSTANCE_STATE_FATAL, "fatal"},
    {ctl::INSTANCE_STATE_KILLED, "killed"},     {ctl::INSTANCE_STATE_IDLE, "idle"},
};

Labels Of(const ctl::EngineStatus& engine, const ctl::InstanceStatus& inst) {
  return {{"engine", engine.name()}, {"index", absl::StrCat(inst.index())}};
}

double Seconds(int64_t ms) { return static_cast<double>(ms) / 1000.0; }

// Every restart cause (lifecycle.h's RestartCauseName), in a fixed order.
constexpr const char* kRestartReasons[] = {"exit",     "signal", "unhealthy", "timeout",
                                           "operator", "config", "replaced",  "spawn_failed"};
// Always a series, 0 until it happens (so a first restart is an increase,
// not a new series); the others appear once they happen.
bool AlwaysShown(absl::string_view reason) {
  return reason == "exit" || reason == "signal" || reason == "unhealthy" || reason == "operator";
}

// One family over every instance: value(inst) or nothing for it.
void PerInstance(const ctl::GetStatusResponse& status, Exposition* out, absl::string_view name,
                 Type type, absl::string_view help,
                 const std::function<std::optional<double>(const ctl::InstanceStatus&)>& value) {
  out->Family(name, type, help);
  for (const ctl::EngineStatus& engine : status.engines()) {
    for (const ctl::InstanceStatus& inst : engine.instances()) {
      if (std::optional<double> v = value(inst)) out->Sample(Of(engine, inst), *v);
    }
  }
}

void Daemon(const ctl::GetStatusResponse& status, Exposition* out) {
  const ctl::DaemonStatus& d = status.daemon();
  out->Family("fleet_build_info", Type::kGauge, "fleetd's version (the value is 1)");
  out->Sample({{"version", status.version()}, {"fleet", status.fleet()}}, 1);
  out->Family("fleet_daemon_start_time_seconds", Type::kGauge,
              "When fleetd started, in seconds since the epoch");
  out->Sample({}, Seconds(d.started_unix_ms()));
  out->Family("fleet_daemon_open_fds", Type::kGauge, "Descriptors fleetd has open");
  out->Sample({}, d.open_fds());
  out->Family("fleet_daemon_memory_rss_bytes", Type::kGauge, "fleetd's resident memory");
  out->Sample({}, static_cast<double>(d.rss_bytes()));
  out->Family("fleet_daemon_instances", Type::kGauge, "Instances fleetd supervises");
  out->Sample({}, d.instances());
  out->Family("fleet_daemon_events_total", Type::kCounter, "Events fleetd has recorded");
  out->Sample({}, static_cast<double>(d.events()));
  // The loop's passes: the same buckets as the status' histogram.
  std::vector<double> bounds;
  std::vector<uint64_t> counts;
  uint64_t count = 0;
  for (int i = 0; i < d.loop_pass_buckets_size(); ++i) {
    count += d.loop_pass_buckets(i);
    if (i + 1 >= stats::LatencyHistogram::kBuckets) break;  // The last is +Inf's.
    bounds.push_back(absl::ToDoubleSeconds(stats::LatencyHistogram::Bound(i)));
    counts.push_back(d.loop_pass_buckets(i));
  }
  out->Family("fleet_daemon_loop_pass_seconds", Type::kHistogram,
              "How long each pass of the supervision loop took (work for one wake-up)");
  out->Histogram({}, bounds, counts, static_cast<double>(d.loop_pass_sum_us()) / 1e6, count);
}

void Instances(const ctl::GetStatusResponse& status, Exposition* out) {
  using Inst = ctl::InstanceStatus;
  PerInstance(status, out, "fleet_instance_up", Type::kGauge, "1 while the instance has a process",
              [](const Inst& i) { return i.pid() > 0; });
  out->Family("fleet_instance_state", Type::kGauge,
              "The instance's state: 1 for the one it is in, 0 for the others");
  for (const ctl::EngineStatus& engine : status.engines()) {
    for (const Inst& inst : engine.instances()) {
      for (const auto& [state, name] : kStates) {
        Labels labels = Of(engine, inst);
        labels.emplace_back("state", name);
        out->Sample(labels, inst.state() == state);
      }
    }
  }
  out->Family("fleet_instance_restarts_total", Type::kCounter,
              "Times fleetd started the instance again (since fleetd started or took it back), "
              "by what caused it");
  for (const ctl::EngineStatus& engine : status.engines()) {
    for (const Inst& inst : engine.instances()) {
      for (const char* reason : kRestartReasons) {
        auto it = inst.restarts_by_reason().find(reason);
        const bool seen = it != inst.restarts_by_reason().end();
        if (!seen && !AlwaysShown(reason)) continue;
        Labels labels = Of(engine, inst);
        labels.emplace_back("reason", reason);
        out->Sample(labels, seen ? it->second : 0);
      }
    }
  }
  PerInstance(status, out, "fleet_instance_start_time_seconds", Type::kGauge,
              "When the instance's current run started, in seconds since the epoch",
              [](const Inst& i) -> std::optional<double> {
                if (i.pid() <= 0 || i.started_unix_ms() <= 0) return std::nullopt;
                return Seconds(i.started_unix_ms());
              });
  PerInstance(status, out, "fleet_instance_cpu_seconds_total", Type::kCounter,
              "CPU time used by the current run (every process of its cgroup)",
              [](const Inst& i) -> std::optional<double> {
                if (i.pid() <= 0) return std::nullopt;
                return i.cpu_seconds();
              });
  PerInstance(status, out, "fleet_instance_memory_rss_bytes", Type::kGauge,
              "Resident memory of the current run (every process of its cgroup)",
              [](const Inst& i) -> std::optional<double> {
                if (i.pid() <= 0) return std::nullopt;
                return static_cast<double>(i.rss_bytes());
              });
  PerInstance(status, out, "fleet_instance_healthy", Type::kGauge,
              "1 healthy, 0 unhealthy; absent without a health check or a verdict",
              [](const Inst& i) -> std::optional<double> {
                if (absl::StartsWith(i.health(), "healthy")) return 1;
                if (absl::StartsWith(i.health(), "UNHEALTHY")) return 0;
                return std::nullopt;
              });
  PerInstance(status, out, "fleet_kill_condition_triggered", Type::kGauge,
              "1 while the instance's kill condition holds; absent without one",
              [](const Inst& i) -> std::optional<double> {
                if (i.condition().empty()) return std::nullopt;
                return absl::StartsWith(i.condition(), "HOLDS");
              });
  PerInstance(status, out, "fleet_instance_log_dropped_bytes_total", Type::kCounter,
              "Output dropped instead of written to the instance's log (disk full, errors)",
              [](const Inst& i) { return static_cast<double>(i.log_dropped_bytes()); });
  PerInstance(status, out, "fleet_instance_last_progress_age_seconds", Type::kGauge,
              "Since the running instance last showed progress (its health check's signal: log "
              "or heartbeat written); absent without a health check",
              [](const Inst& i) -> std::optional<double> {
                if (i.pid() <= 0 || i.last_progress_ms_ago() < 0) return std::nullopt;
                return Seconds(i.last_progress_ms_ago());
              });
}

// FLEET_METRIC values as fleet_app_<name>{engine,index}: one family per
// name, names made valid (two names that become one: the first, by name).
void AppMetrics(const ctl::GetStatusResponse& status, Exposition* out) {
  struct Value {
    const ctl::EngineStatus* engine;
    const ctl::InstanceStatus* inst;
    double value;
  };
  std::map<std::string, std::map<std::pair<std::string, uint32_t>, Value>> families;
  for (const ctl::EngineStatus& engine : status.engines()) {
    for (const ctl::InstanceStatus& inst : engine.instances()) {
      // The map's order is not the names' order: sort, so a clash resolves
      // the same way every time.
      std::map<std::string, double> sorted(inst.app_metrics().begin(), inst.app_metrics().end());
      for (const auto& [name, value] : sorted) {
        families[absl::StrCat("fleet_app_", SanitizeName(name))].emplace(
            std::make_pair(engine.name(), inst.index()), Value{&engine, &inst, value});
      }
    }
  }
  for (const auto& [name, values] : families) {
    out->Family(name, Type::kGauge, "A value the instance published (FLEET_METRIC)");
    for (const auto& [key, v] : values) out->Sample(Of(*v.engine, *v.inst), v.value);
  }
}

// What the feature modules publish (Module::FillMetrics), as they gave it.
void ModuleSeries(const ctl::GetStatusResponse& status, Exposition* out) {
  for (const ctl::MetricFamily& family : status.metrics()) {
    const Type type = family.type() == ctl::MetricFamily::COUNTER     ? Type::kCounter
                      : family.type() == ctl::MetricFamily::HISTOGRAM ? Type::kHistogram
                                                                      : Type::kGauge;
    out->Family(family.name(), type, family.help());
    for (const ctl::MetricSample& sample : family.samples()) {
      Labels labels;
      for (const ctl::MetricLabel& label : sample.labels()) {
        labels.emplace_back(label.name(), label.value());
      }
      if (type != Type::kHistogram) {
        out->Sample(labels, sample.value());
        continue;
      }
      out->Histogram(labels, {sample.bounds().begin(), sample.bounds().end()},
                     {sample.counts().begin(), sample.counts().end()}, sample.sum(),
                     sample.count());
    }
  }
}

void Runs(const ctl::GetStatusResponse& status, Exposition* out) {
  using Inst = ctl::InstanceStatus;
  PerInstance(status, out, "fleet_run_next_timestamp_seconds", Type::kGauge,
              "When the next scheduled run is due, in seconds since the epoch",
              [](const Inst& i) -> std::optional<double> {
                if (i.next_run_unix_ms() <= 0) return std::nullopt;
                return Seconds(i.next_run_unix_ms());
              });
  PerInstance(status, out, "fleet_run_last_start_timestamp_seconds", Type::kGauge,
              "When the latest scheduled run started, in seconds since the epoch",
              [](const Inst& i) -> std::optional<double> {
                if (!i.has_last_run() || i.last_run().started_unix_ms() <= 0) return std::nullopt;
                return Seconds(i.last_run().started_unix_ms());
              });
}

}  // namespace

std::string RenderFleetMetrics(const ctl::GetStatusResponse& status, Format format) {
  Exposition out(format);
  Daemon(status, &out);
  Instances(status, &out);
  AppMetrics(status, &out);
  Runs(status, &out);
  ModuleSeries(status, &out);
  return out.Finish();
}

}  // namespace fleet::metrics
