#include "core/health/policy.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/proto_time/proto_time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/struct.pb.h"

namespace fleet::health {
namespace {

int64_t Millis(absl::Duration d) { return absl::ToInt64Milliseconds(d); }

constexpr uint32_t kProbeFailureThreshold = 3;
constexpr absl::Duration kProbeStartupGrace = absl::Seconds(60);

}  // namespace

HealthPolicy HealthPolicyFor(const fleet::config::v1::Engine& engine) {
  const fleet::config::v1::Health& h = engine.health();
  HealthPolicy p;
  if (!h.check().empty()) p.check = h.check();
  p.initial_delay = h.has_initial_delay() ? FromProto(h.initial_delay()) : FromProto(engine.min_uptime());
  if (h.has_period()) p.period = std::max(FromProto(h.period()), absl::Milliseconds(100));
  if (h.has_timeout()) p.timeout = std::max(FromProto(h.timeout()), absl::Milliseconds(10));
  const bool probe =
      h.tcp().port() != 0 || h.http().port() != 0 || h.exec().command_size() > 0;
  // Kubernetes' split for probes: a start-up allowance, then three strikes.
  p.failure_threshold = probe ? kProbeFailureThreshold : 1;
  if (h.has_failure_threshold()) p.failure_threshold = std::max<uint32_t>(1, h.failure_threshold());
  p.startup_grace = !probe                     ? absl::ZeroDuration()
                    : h.has_startup_grace() ? FromProto(h.startup_grace())
                                            : kProbeStartupGrace;
  p.log_path = h.log_path();
  p.heartbeat_path = h.heartbeat_path();

  fleet::plugin::v1::HealthSpec& s = p.spec;
  s.set_process(h.process());
  // log_max_age wins over the ForgeOS minutes form.
  if (h.has_log_max_age()) {
    s.set_log_max_age_ms(Millis(FromProto(h.log_max_age())));
  } else if (h.log_max_age_min() > 0) {
    s.set_log_max_age_ms(static_cast<int64_t>(std::llround(h.log_max_age_min() * 60000)));
  }
  if (!h.heartbeat_path().empty()) {
    s.set_heartbeat_max_age_ms(h.has_heartbeat_max_age() ? Millis(FromProto(h.heartbeat_max_age()))
                                                          : 60000);
  }
  if (h.cpu_progress()) {
    s.set_cpu_window_ms(h.has_cpu_window() ? Millis(FromProto(h.cpu_window())) : 60000);
  }
  for (const std::string& arg : h.exec().command()) s.add_exec_command(arg);
  s.set_tcp_port(h.tcp().port());
  s.set_tcp_host(h.tcp().host());
  s.set_http_port(h.http().port());
  s.set_http_path(h.http().path());
  s.set_http_host(h.http().host());
  s.set_timeout_ms(Millis(p.timeout));
  s.set_starved_cpu_pressure(h.starved_cpu_pressure());
  for (const auto& [key, value] : h.plugin().fields()) {
    std::string text;
    switch (value.kind_case()) {
      case google::protobuf::Value::kStringValue:
        text = value.string_value();
        break;
      case google::protobuf::Value::kNumberValue: {
        double v = value.number_value();
        // 500 stays "500", not "500.0" or "5e+02".
        text = (v == std::floor(v) && std::fabs(v) < 1e15)
                   ? absl::StrCat(static_cast<int64_t>(v))
                   : absl::StrCat(v);
        break;
      }
      case google::protobuf::Value::kBoolValue:
        text = value.bool_value() ? "true" : "false";
        break;
      default:
        continue;  // Lists and objects have no plain-text form here.
    }
    (*s.mutable_params())[key] = text;
  }
  p.enabled = !s.process().empty() || s.log_max_age_ms() > 0 || s.heartbeat_max_age_ms() > 0 ||
              s.cpu_window_ms() > 0 || s.tcp_port() != 0 || s.http_port() != 0 ||
              s.exec_command_size() > 0 ||
              h.check() != "" || h.plugin().fields_size() > 0;
  return p;
}

}  // namespace fleet::health
