// fleet.health.builtin: "health is progress". An instance is healthy while it
// exists (not a zombie), its named process exists, its probes answer, and at
// least one of its configured progress signals (log, heartbeat, CPU time) is
// fresh. Staleness is judged on the host's monotonic observations and never
// while the host itself is starved.
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "plugins/health/probes.h"
#include "plugins/sdk/sdk.h"
#include "proto/fleet/plugin/v1/health.pb.h"

namespace fleet::plugins::health {
namespace {

using fleet::plugin::v1::HealthCheckRequest;
using fleet::plugin::v1::HealthCheckResult;
using Clock = std::chrono::steady_clock;

constexpr int64_t kDefaultTimeoutMs = 1000;
constexpr double kDefaultStarvedPressure = 50;

struct CpuSample {
  int32_t pid = 0;
  uint64_t ticks = 0;
  Clock::time_point last_advance;
};

class BuiltinHealth {
 public:
  static std::unique_ptr<BuiltinHealth> Create(const fleet::sdk::Host&, const std::string&,
                                               std::string*) {
    return std::make_unique<BuiltinHealth>();
  }

  bool Check(const HealthCheckRequest& request, HealthCheckResult* result, std::string*) {
    const auto& spec = request.spec();
    std::optional<char> state = ProcessState(request.pid());
    if (!state.has_value() || *state == 'Z' || *state == 'X') {
      return Verdict(result, fleet::plugin::v1::VERDICT_UNHEALTHY, "process is gone", 0);
    }
    if (!spec.process().empty() && !AnyProcessMatches(spec.process())) {
      return Verdict(result, fleet::plugin::v1::VERDICT_UNHEALTHY,
                     "no process matching '" + spec.process() + "'", 0);
    }
    const int timeout = static_cast<int>(spec.timeout_ms() > 0 ? spec.timeout_ms() : kDefaultTimeoutMs);
    if (spec.exec_command_size() > 0) {
      std::string why = ExecVerdict(request, timeout);
      if (!why.empty()) return Verdict(result, fleet::plugin::v1::VERDICT_UNHEALTHY, why, 0);
    }
    if (spec.tcp_port() != 0) {
      std::string why = TcpProbe(spec.tcp_host(), static_cast<uint16_t>(spec.tcp_port()), timeout);
      if (!why.empty()) {
        return Verdict(result, fleet::plugin::v1::VERDICT_UNHEALTHY,
                       "tcp :" + std::to_string(spec.tcp_port()) + ": " + why, 0);
      }
    }
    if (spec.http_port() != 0) {
      std::string why = HttpProbe(spec.http_host(), static_cast<uint16_t>(spec.http_port()),
                                  spec.http_path(), timeout);
      if (!why.empty()) {
        return Verdict(result, fleet::plugin::v1::VERDICT_UNHEALTHY,
                       "http GET :" + std::to_string(spec.http_port()) +
                           (spec.http_path().empty() ? "/" : spec.http_path()) + ": " + why,
                       0);
      }
    }
    return Progress(request, result);
  }

 private:
  static bool Verdict(HealthCheckResult* result, fleet::plugin::v1::Verdict verdict,
                      const std::string& reason, int64_t recheck_ms) {
    result->set_verdict(verdict);
    result->set_reason(reason);
    result->set_recheck_in_ms(recheck_ms);
    return true;
  }

  // Empty when the exec probe passed, else why it did not.
  static std::string ExecVerdict(const HealthCheckRequest& request, int timeout_ms) {
    const auto& exec = request.exec();
    const std::string& program = request.spec().exec_command(0);
    if (!exec.error().empty()) return "exec probe " + program + " could not run: " + exec.error();
    if (!exec.ran()) return "exec probe " + program + " did not run";
    if (exec.timed_out()) return "exec probe " + program + " timed out after " + HumanMillis(timeout_ms);
    if (exec.signal() != 0) {
      return "exec probe " + program + " was killed by signal " + std::to_string(exec.signal());
    }
    if (exec.exit_code() == 0) return "";
    std::string tail = exec.output();
    while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
    size_t line = tail.rfind('\n');
    if (line != std::string::npos) tail = tail.substr(line + 1);
    if (tail.size() > 120) tail = tail.substr(0, 117) + "...";
    return "exec probe " + program + " exited with status " + std::to_string(exec.exit_code()) +
           (tail.empty() ? "" : ": " + tail);
  }

  // Any fresh progress signal makes the instance healthy; it is unhealthy
  // only when every configured one is stale.
  bool Progress(const HealthCheckRequest& request, HealthCheckResult* result) {
    const auto& spec = request.spec();
    std::vector<std::string> stale;
    int64_t recheck = 0;  // The soonest moment a fresh signal could go stale.
    bool fresh = false;
    auto judge = [&](const char* what, int64_t idle_ms, int64_t max_ms) {
      if (max_ms <= 0) return;
      // Not written since the start: it has been idle for the whole uptime.
      int64_t idle = idle_ms >= 0 ? idle_ms : request.uptime_ms();
      if (idle > max_ms) {
        stale.push_back(std::string(what) + " stale " + HumanMillis(idle) + " > " +
                        HumanMillis(max_ms));
      } else {
        fresh = true;
        int64_t left = max_ms - idle + 1;
        recheck = recheck == 0 ? left : std::min(recheck, left);
      }
    };
    judge("log", request.log_idle_ms(), spec.log_max_age_ms());
    judge("heartbeat", request.heartbeat_idle_ms(), spec.heartbeat_max_age_ms());
    if (spec.cpu_window_ms() > 0) judge("cpu", CpuIdleMs(request), spec.cpu_window_ms());
    if (stale.empty()) {
      return Verdict(result, fleet::plugin::v1::VERDICT_HEALTHY,
                     fresh ? "progressing" : "running", recheck);
    }
    std::string reason;
    for (const std::string& s : stale) reason += (reason.empty() ? "" : ", ") + s;
    if (fresh) {
      // One signal stale, another fresh: busy but quiet is still progress.
      return Verdict(result, fleet::plugin::v1::VERDICT_HEALTHY, "progressing (" + reason + ")",
                     recheck);
    }
    // A starved host makes everything look stuck; do not restart for that.
    double limit = spec.starved_cpu_pressure() > 0 ? spec.starved_cpu_pressure()
                                                   : kDefaultStarvedPressure;
    std::optional<double> pressure = CpuPressure();
    if (pressure.has_value() && *pressure > limit) {
      return Verdict(result, fleet::plugin::v1::VERDICT_UNKNOWN,
                     reason + ", but the host is starved (cpu pressure " +
                         std::to_string(static_cast<int>(*pressure)) + "% > " +
                         std::to_string(static_cast<int>(limit)) + "%): deferring",
                     1000);
    }
    return Verdict(result, fleet::plugin::v1::VERDICT_UNHEALTHY, reason, 0);
  }

  // How long the instance's CPU time has not advanced, tracked per instance.
  int64_t CpuIdleMs(const HealthCheckRequest& request) {
    const std::string key = request.engine() + "/" + std::to_string(request.index());
    const auto now = Clock::now();
    std::optional<uint64_t> ticks = CpuTicks(request.pid());
    CpuSample& sample = cpu_[key];
    if (sample.pid != request.pid()) {  // A new process: start counting now.
      sample = CpuSample{request.pid(), ticks.value_or(0), now};
      return 0;
    }
    if (ticks.has_value() && *ticks != sample.ticks) {
      sample.ticks = *ticks;
      sample.last_advance = now;
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(now - sample.last_advance).count();
  }

  std::map<std::string, CpuSample> cpu_;
};

}  // namespace
}  // namespace fleet::plugins::health

FLEET_HEALTH_PLUGIN(fleet::plugins::health::BuiltinHealth, "fleet.health.builtin", "0.1.0")
