// fleetd's Prometheus metrics, end to end: `fleetctl metrics`, the /metrics
// listener and the textfile show the same series, promtool accepts them,
// they follow what happens (a kill is a restart), hostile clients of the
// listener cost supervision nothing, and a bad `metrics:` block is refused
// with its position.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "re2/re2.h"
#include "tests/integration/fleet_harness.h"

namespace fleet::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Fleet(const std::string& metrics) {
  return absl::StrCat("name: it\nrun_dir: run\nmetrics: ", metrics, "\nengines:\n",
                      "  - name: w\n    command: [\"", FleetHarness::ChildPath(),
                      "\"]\n    replicas: 2\n    min_uptime: 100ms\n");
}

// The port fleetd's log says it listens on.
int ListenerPort(const FleetHarness& h) {
  std::string port;
  RE2::PartialMatch(h.FleetdLog(), R"(serving /metrics and /healthz on 127\.0\.0\.1:(\d+))", &port);
  int n = 0;
  return absl::SimpleAtoi(port, &n) ? n : 0;
}

// promtool's complaints about an exposition ("" when none).
std::string Promtool(const FleetHarness& h, const std::string& text) {
  h.WriteFile("check.prom", text);
  CommandResult r = h.Run(
      {"/bin/sh", "-c", absl::StrCat("promtool check metrics < ", h.dir(), "/check.prom 2>&1")});
  return r.exit_code == 0 && r.out.empty() ? "" : absl::StrCat("exit ", r.exit_code, ": ", r.out);
}

// What instances publish (FLEET_METRIC lines), their progress as their
// health check sees it, and the plugin calls that judged them, as series.
TEST(MetricsTest, AppValuesProgressAndPluginCallsAreSeries) {
  FleetHarness h;
  h.WriteFile("fleet.yaml",
              absl::StrCat("name: it\nrun_dir: run\nmetrics: {textfile: fleet.prom}\nengines:\n",
                           "  - name: trader\n    shell: 'while :; do echo \"FLEET_METRIC "
                           "cash=41.5 open_orders=3\"; sleep 0.2; done'\n",
                           "    health: {log_max_age: 5s, period: 200ms, starved_cpu_pressure: "
                           "100}\n"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  std::string text;
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        text = h.Fleetctl({"metrics"}).out;
        return FleetHarness::MetricSum(text, "fleet_plugin_calls_total", "kind=\"health\"") >= 2 &&
               FleetHarness::MetricSum(text, "fleet_app_cash") == 41.5;
      },
      absl::Seconds(15)))
      << text << h.FleetdLog();
  EXPECT_THAT(text, HasSubstr("fleet_app_cash{engine=\"trader\",index=\"0\"} 41.5\n"));
  EXPECT_THAT(text, HasSubstr("fleet_app_open_orders{engine=\"trader\",index=\"0\"} 3\n"));
  EXPECT_EQ(FleetHarness::MetricSum(text, "fleet_plugin_call_failures_total"), 0) << text;
  // It prints every 200ms: its last progress is recent.
  const double age = FleetHarness::MetricSum(text, "fleet_instance_last_progress_age_seconds");
  EXPECT_GE(age, 0) << text;
  EXPECT_LT(age, 10) << text;  // generous: sanitizer builds, a shared machine
  EXPECT_EQ(Promtool(h, text), "");
}

TEST(MetricsTest, FleetctlTheListenerAndTheTextfileShowTheFleetAsItIs) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", Fleet("{listen: '127.0.0.1:0', textfile: fleet.prom, interval: 1s}"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return absl::StrContains(
            h.Fleetctl({"metrics"}).out,
            "fleet_instance_state{engine=\"w\",index=\"1\",state=\"running\"} 1");
      },
      absl::Seconds(15)))
      << h.Fleetctl({"metrics"}).out;
  const std::string text = h.Fleetctl({"metrics"}).out;
  EXPECT_THAT(text, HasSubstr("fleet_instance_up{engine=\"w\",index=\"0\"} 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr("fleet_instance_restarts_total{engine=\"w\",index=\"0\",reason=\"signal\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE fleet_daemon_loop_pass_seconds histogram\n"));
  EXPECT_EQ(Promtool(h, text), "");
  EXPECT_THAT(h.Fleetctl({"metrics", "--openmetrics"}).out, ::testing::EndsWith("# EOF\n"));

  // The listener serves the same families.
  const int port = ListenerPort(h);
  ASSERT_GT(port, 0) << h.FleetdLog();
  const std::string served = FleetHarness::HttpGet(port, "/metrics");
  EXPECT_THAT(served, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(served, HasSubstr("fleet_instance_up{engine=\"w\",index=\"1\"} 1\n"));
  EXPECT_THAT(FleetHarness::HttpGet(port, "/healthz"), StartsWith("HTTP/1.1 200 OK"));
  EXPECT_THAT(FleetHarness::HttpGet(port, "/nope"), StartsWith("HTTP/1.1 404"));

  // The textfile, rewritten every second.
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return absl::StrContains(FleetHarness::FileText(h.dir() + "/fleet.prom"),
                                 "fleet_build_info");
      },
      absl::Seconds(5)));
  EXPECT_EQ(Promtool(h, FleetHarness::FileText(h.dir() + "/fleet.prom")), "");

  // Every event is in the journal too, a JSON line each.
  const std::string journal = FleetHarness::FileText(h.run_dir() + "/events.jsonl");
  EXPECT_THAT(journal, HasSubstr("\"subject\":\"w/0\",\"kind\":\"started\""));
  EXPECT_THAT(journal, HasSubstr("{\"v\":1,\"seq\":1,"));

  // A kill is a restart, in every one of them.
  const pid_t victim = h.Instance("w/0").pid();
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  const std::string restarted =
      "fleet_instance_restarts_total{engine=\"w\",index=\"0\",reason=\"signal\"} 1\n";
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return absl::StrContains(h.Fleetctl({"metrics"}).out, restarted); },
      absl::Seconds(10)));
  EXPECT_THAT(FleetHarness::HttpGet(port, "/metrics"), HasSubstr(restarted));
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return absl::StrContains(FleetHarness::FileText(h.dir() + "/fleet.prom"), restarted); },
      absl::Seconds(5)));
}

TEST(MetricsTest, HostileClientsOfTheListenerCostSupervisionNothing) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", Fleet("{listen: '127.0.0.1:0'}"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  const int port = ListenerPort(h);
  ASSERT_GT(port, 0) << h.FleetdLog();
  ASSERT_TRUE(
      FleetHarness::WaitUntil([&] { return h.Instance("w/0").pid() > 0; }, absl::Seconds(10)));
  // Silent connections past every slot, one sending a head that never ends.
  std::vector<int> hostile;
  for (int i = 0; i < 40; ++i) hostile.push_back(FleetHarness::ConnectLoopback(port));
  const std::string endless = "GET /metrics HTTP/1.1\r\nX: " + std::string(4000, 'a');
  (void)!write(hostile[0], endless.data(), endless.size());
  // Supervision goes on meanwhile: a killed instance is restarted at once.
  const pid_t victim = h.Instance("w/0").pid();
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("w/0").pid() > 0 && h.Instance("w/0").pid() != victim; },
      absl::Seconds(5)));
  // And the loop's passes stayed short (a generous bound: sanitizer builds).
  EXPECT_LT(h.Status()->daemon().loop_pass_max_us(), 1000 * 1000);
  for (int fd : hostile) close(fd);
  // The listener is still there for a real scraper.
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return absl::StartsWith(FleetHarness::HttpGet(port, "/metrics"), "HTTP/1.1 200"); },
      absl::Seconds(15)));
}

TEST(MetricsTest, ABadMetricsBlockIsRefusedWithItsPosition) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", Fleet("{listen: nope, textfile: metrics.txt, interval: 10ms}"));
  CommandResult r = h.Fleetctl({"validate", h.dir() + "/fleet.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("fleet.yaml:3:"));
  EXPECT_THAT(r.err, HasSubstr("listen 'nope' is neither HOST:PORT"));
  EXPECT_THAT(r.err, HasSubstr("textfile must end in .prom"));
  EXPECT_THAT(r.err, HasSubstr("interval must be at least 1s"));
}

}  // namespace
}  // namespace fleet::testing
