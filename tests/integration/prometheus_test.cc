// A real Prometheus (Debian's, started here with its own config and
// storage on 127.0.0.1, stopped by pid; never the packaged service)
// scrapes a running fleetd every second, and its HTTP API shows what
// happened: the target is up, the state series say running, a killed
// instance's restart counter rises. Supervision timing is checked in the
// same run: scrapes cost the loop nothing it would notice.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "re2/re2.h"
#include "tests/integration/fleet_harness.h"

namespace fleet::testing {
namespace {

// A Prometheus of the test's own, stopped (SIGTERM, then SIGKILL) by pid.
class Prometheus {
 public:
  // Scrapes 127.0.0.1:target_port as job "fleet" every second, and
  // evaluates fleet's alert rules as often.
  Prometheus(const FleetHarness& h, int target_port) : port_(FleetHarness::FreePort()) {
    h.WriteFile(
        "fleet-alerts.yml",
        FleetHarness::FileText(FleetHarness::RunfilePath("contrib/prometheus/fleet-alerts.yml")));
    h.WriteFile("prometheus.yml",
                absl::StrCat("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n",
                             "rule_files: ['", h.dir(), "/fleet-alerts.yml']\n",
                             "scrape_configs:\n  - job_name: fleet\n    static_configs:\n",
                             "      - targets: ['127.0.0.1:", target_port, "']\n"));
    const std::string config = h.dir() + "/prometheus.yml";
    const std::string storage = "--storage.tsdb.path=" + h.dir() + "/prometheus-data";
    const std::string listen = absl::StrCat("--web.listen-address=127.0.0.1:", port_);
    const std::string log = h.dir() + "/prometheus.log";
    pid_ = fork();
    if (pid_ == 0) {
      FILE* out = freopen(log.c_str(), "w", stderr);
      (void)out;
      execlp("prometheus", "prometheus", ("--config.file=" + config).c_str(), storage.c_str(),
             listen.c_str(), nullptr);
      _exit(127);
    }
  }
  ~Prometheus() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    if (!FleetHarness::WaitUntil([&] { return waitpid(pid_, nullptr, WNOHANG) == pid_; },
                                 absl::Seconds(10))) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // An API answer's body (with its head).
  std::string Get(const std::string& path) const { return FleetHarness::HttpGet(port_, path); }

  // The value of the first sample of an instant query ("" if none).
  std::string Query(const std::string& promql) const {
    std::string encoded;
    for (char c : promql) {
      if (isalnum(static_cast<unsigned char>(c)) || c == '_') {
        encoded.push_back(c);
      } else {
        absl::StrAppend(&encoded, "%", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
      }
    }
    const std::string answer = FleetHarness::HttpGet(port_, "/api/v1/query?query=" + encoded);
    std::string value;
    RE2::PartialMatch(answer, R"re("value":\[[0-9.e+]+,"([^"]*)"\])re", &value);
    return value;
  }

 private:
  const int port_;
  pid_t pid_ = -1;
};

TEST(PrometheusTest, ARealPrometheusScrapesFleetdAndSeesWhatHappens) {
  FleetHarness h;
  h.WriteFile(
      "fleet.yaml",
      absl::StrCat("name: it\nrun_dir: run\nmetrics: {listen: '127.0.0.1:0'}\nengines:\n",
                   "  - name: w\n    command: [\"", FleetHarness::ChildPath(),
                   "\"]\n    min_uptime: 100ms\n",
                   "  - name: tick\n    type: cron\n    schedule: '@every 1s'\n",
                   "    shell: 'true'\n",
                   "  - name: risky\n    shell: 'echo FLEET_METRIC loss=9; exec sleep 1000'\n",
                   "    kill_condition: 'loss > 5'\n"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  std::string port_text;
  ASSERT_TRUE(RE2::PartialMatch(h.FleetdLog(), R"(on 127\.0\.0\.1:(\d+))", &port_text))
      << h.FleetdLog();
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(port_text, &port));
  Prometheus prometheus(h, port);

  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return prometheus.Query("up{job=\"fleet\"}") == "1"; },
                                      absl::Seconds(60)))
      << FleetHarness::FileText(h.dir() + "/prometheus.log");
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return prometheus.Query(
                   "fleet_instance_state{engine=\"w\",index=\"0\",state=\"running\"}") == "1";
      },
      absl::Seconds(20)));
  EXPECT_EQ(prometheus.Query("sum(fleet_instance_restarts_total{engine=\"w\",index=\"0\"})"), "0");

  const pid_t victim = h.Instance("w/0").pid();
  ASSERT_GT(victim, 0);
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return prometheus.Query(
                   "fleet_instance_restarts_total{engine=\"w\",index=\"0\",reason=\"signal\"}") ==
               "1";
      },
      absl::Seconds(20)));
  EXPECT_EQ(prometheus.Query("fleet_build_info{job=\"fleet\"}"), "1");

  // The cron engine's successes move its timestamp.
  double first = 0, later = 0;
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return absl::SimpleAtod(
                   prometheus.Query("fleet_run_last_success_timestamp_seconds{engine=\"tick\"}"),
                   &first) &&
               first > 0;
      },
      absl::Seconds(20)));
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return absl::SimpleAtod(
                   prometheus.Query("fleet_run_last_success_timestamp_seconds{engine=\"tick\"}"),
                   &later) &&
               later > first;
      },
      absl::Seconds(20)))
      << first;
  double succeeded = 0;
  EXPECT_TRUE(absl::SimpleAtod(
      prometheus.Query("fleet_runs_total{engine=\"tick\",verdict=\"succeeded\"}"), &succeeded));
  EXPECT_GE(succeeded, 2);

  // fleet's alert rules load in the real server, and one fires for real:
  // risky's kill condition held and stopped it.
  const std::string rules = prometheus.Get("/api/v1/rules");
  EXPECT_THAT(rules, ::testing::HasSubstr("\"name\":\"FleetCrashLooping\""));
  EXPECT_THAT(rules, ::testing::Not(::testing::HasSubstr("\"health\":\"err\""))) << rules;
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return prometheus.Query(
                   "ALERTS{alertname=\"FleetKillConditionFired\",engine=\"risky\","
                   "alertstate=\"firing\"}") == "1";
      },
      absl::Seconds(30)))
      << prometheus.Get("/api/v1/alerts");
  // Scraped every second meanwhile, the loop's passes stayed short (a
  // generous bound: sanitizer builds, a shared machine).
  absl::StatusOr<fleet::control::v1::GetStatusResponse> status = h.Status();
  ASSERT_TRUE(status.ok());
  EXPECT_LT(status->daemon().loop_pass_max_us(), 500 * 1000);
  double passes = 0;
  EXPECT_TRUE(absl::SimpleAtod(prometheus.Query("fleet_daemon_loop_pass_seconds_count"), &passes));
  EXPECT_GT(passes, 0);
}

}  // namespace
}  // namespace fleet::testing
