// Calls the plugin's fleet_plugin_v1() table directly (linked statically).
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "plugins/sdk/fleet_plugin.h"
#include "proto/fleet/plugin/v1/health.pb.h"

namespace {

using ::testing::HasSubstr;
using fleet::plugin::v1::HealthCheckRequest;
using fleet::plugin::v1::HealthCheckResult;

class BuiltinHealthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api_ = fleet_plugin_v1();
    fleet_bytes error{nullptr, 0};
    ASSERT_EQ(api_->create(nullptr, {nullptr, 0}, &instance_, &error), 0);
  }
  void TearDown() override { api_->destroy(instance_); }

  HealthCheckResult Check(const HealthCheckRequest& request) {
    std::string bytes = request.SerializeAsString();
    fleet_bytes response{nullptr, 0}, error{nullptr, 0};
    EXPECT_EQ(api_->call(instance_, FLEET_METHOD_HEALTH_CHECK,
                         {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, &response,
                         &error),
              0);
    HealthCheckResult result;
    result.ParseFromArray(response.data, static_cast<int>(response.size));
    return result;
  }

  HealthCheckRequest Self() {
    HealthCheckRequest request;
    request.set_engine("bot");
    request.set_pid(getpid());
    request.set_uptime_ms(600000);
    request.mutable_spec()->set_starved_cpu_pressure(100.1);  // Never defer in tests.
    return request;
  }

  const fleet_plugin_api_v1* api_ = nullptr;
  void* instance_ = nullptr;
};

TEST_F(BuiltinHealthTest, IdentifiesItself) {
  EXPECT_STREQ(api_->name, "fleet.health.builtin");
  EXPECT_STREQ(api_->kind, "health");
  EXPECT_EQ(api_->abi_version, FLEET_PLUGIN_ABI_VERSION);
}

TEST_F(BuiltinHealthTest, StaleLogIsUnhealthyWithAnOperatorReason) {
  HealthCheckRequest request = Self();
  request.mutable_spec()->set_log_max_age_ms(20 * 60000);
  request.set_log_idle_ms(21 * 60000);
  HealthCheckResult result = Check(request);
  EXPECT_EQ(result.verdict(), fleet::plugin::v1::VERDICT_UNHEALTHY);
  EXPECT_EQ(result.reason(), "log stale 21m > 20m");
}

TEST_F(BuiltinHealthTest, FreshLogSaysWhenToLookAgain) {
  HealthCheckRequest request = Self();
  request.mutable_spec()->set_log_max_age_ms(3000);
  request.set_log_idle_ms(1000);
  HealthCheckResult result = Check(request);
  EXPECT_EQ(result.verdict(), fleet::plugin::v1::VERDICT_HEALTHY);
  EXPECT_EQ(result.recheck_in_ms(), 2001);
  // Never written since the start: idle for the whole uptime.
  request.set_log_idle_ms(-1);
  request.set_uptime_ms(5000);
  EXPECT_EQ(Check(request).reason(), "log stale 5s > 3s");
}

TEST_F(BuiltinHealthTest, CpuProgressKeepsABusySilentProcessHealthy) {
  HealthCheckRequest request = Self();
  request.mutable_spec()->set_log_max_age_ms(1000);
  request.set_log_idle_ms(60000);
  request.mutable_spec()->set_cpu_window_ms(2000);
  Check(request);  // First sample.
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  volatile uint64_t spin = 0;
  while (std::chrono::steady_clock::now() < until) ++spin;
  HealthCheckResult result = Check(request);
  EXPECT_EQ(result.verdict(), fleet::plugin::v1::VERDICT_HEALTHY) << result.reason();
  EXPECT_THAT(result.reason(), HasSubstr("progressing (log stale 1m > 1s)"));
}

TEST_F(BuiltinHealthTest, GoneProcessNamedProcessAndProbes) {
  HealthCheckRequest request = Self();
  request.set_pid(999999);
  EXPECT_EQ(Check(request).reason(), "process is gone");
  request = Self();
  request.mutable_spec()->set_process("no-such-process-name-xyz");
  EXPECT_EQ(Check(request).reason(), "no process matching 'no-such-process-name-xyz'");
  request = Self();
  request.mutable_spec()->set_tcp_port(1);  // Nothing listens on port 1.
  EXPECT_THAT(Check(request).reason(), HasSubstr("tcp :1: Connection refused"));
  request = Self();
  request.mutable_spec()->set_http_port(1);
  EXPECT_THAT(Check(request).reason(), HasSubstr("http GET :1/: Connection refused"));
}

}  // namespace
