#include "core/metrics/fleet_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include "core/metrics/series.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace ctl = ::fleet::control::v1;

ctl::GetStatusResponse AFleet() {
  ctl::GetStatusResponse s;
  s.set_fleet("demo");
  s.set_version("0.1.0");
  ctl::DaemonStatus* d = s.mutable_daemon();
  d->set_started_unix_ms(1733472000123);
  d->set_open_fds(42);
  d->set_rss_bytes(17 << 20);
  d->set_instances(3);
  d->set_events(9);
  for (int i = 0; i < 24; ++i) d->add_loop_pass_buckets(i < 3 ? 10 - i : 0);
  d->set_loop_pass_sum_us(1234);
  ctl::EngineStatus* web = s.add_engines();
  web->set_name("web");
  ctl::InstanceStatus* w0 = web->add_instances();
  w0->set_id("web/0");
  w0->set_state(ctl::INSTANCE_STATE_RUNNING);
  w0->set_pid(100);
  w0->set_started_unix_ms(1733472001000);
  w0->set_restarts(2);
  (*w0->mutable_restarts_by_reason())["exit"] = 1;
  (*w0->mutable_restarts_by_reason())["timeout"] = 1;
  (*w0->mutable_app_metrics())["cash"] = 41.5;
  (*w0->mutable_app_metrics())["api-calls"] = 7;
  // Two names that become one: the first by name ("queue.depth") is kept.
  (*w0->mutable_app_metrics())["queue_depth"] = 2;
  (*w0->mutable_app_metrics())["queue.depth"] = 1;
  w0->set_last_progress_ms_ago(2500);
  w0->set_cpu_seconds(1.5);
  w0->set_rss_bytes(4096);
  w0->set_health("healthy");
  w0->set_condition("HOLDS: loss=9 > 5");
  ctl::InstanceStatus* w1 = web->add_instances();
  w1->set_id("web/1");
  w1->set_index(1);
  w1->set_state(ctl::INSTANCE_STATE_BACKOFF);
  w1->set_health("UNHEALTHY: log stale");
  ctl::EngineStatus* job = s.add_engines();
  job->set_name("nightly");
  ctl::InstanceStatus* j0 = job->add_instances();
  j0->set_id("nightly/0");
  j0->set_state(ctl::INSTANCE_STATE_IDLE);
  j0->set_next_run_unix_ms(1733500000000);
  j0->mutable_last_run()->set_started_unix_ms(1733400000000);
  j0->mutable_last_run()->set_verdict("succeeded");
  j0->set_last_progress_ms_ago(-1);
  w1->set_last_progress_ms_ago(-1);
  // What a module publishes.
  Series runs = Series::Counter(&s, "fleet_runs_total", "Runs by verdict");
  runs.Add({{"engine", "nightly"}, {"index", "0"}, {"verdict", "succeeded"}}, 3);
  Buckets durations(kDurationBounds);
  for (double seconds : {0.05, 2.0, 4000.0, 9000.0}) durations.Add(seconds);
  Series::Histogram(&s, "fleet_run_duration_seconds", "How long runs took")
      .Add(InstanceLabels("nightly", 0), durations);
  return s;
}

// promtool's verdict on an exposition: "" when it has nothing to say.
std::string Promtool(const std::string& text) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/metrics.prom";
  std::ofstream(path) << text;
  const std::string out = path + ".out";
  const int rc = system(("promtool check metrics < " + path + " > " + out + " 2>&1").c_str());
  std::stringstream said;
  said << std::ifstream(out).rdbuf();
  if (rc != 0 || !said.str().empty()) return "exit " + std::to_string(rc) + ": " + said.str();
  return "";
}

TEST(FleetMetricsTest, EveryInstanceIsLabelledByEngineAndIndexNeverByPid) {
  const std::string text = RenderFleetMetrics(AFleet(), Format::kPrometheusText);
  EXPECT_THAT(text, HasSubstr("fleet_instance_up{engine=\"web\",index=\"0\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("fleet_instance_up{engine=\"web\",index=\"1\"} 0\n"));
  EXPECT_THAT(text,
              HasSubstr("fleet_instance_state{engine=\"web\",index=\"1\",state=\"backoff\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("fleet_instance_state{engine=\"web\",index=\"1\",state=\"running\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("fleet_instance_restarts_total{engine=\"web\",index=\"0\",reason="
                              "\"exit\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("fleet_instance_restarts_total{engine=\"web\",index=\"0\",reason="
                              "\"timeout\"} 1\n"));
  // The common causes are always there (0 until they happen); rare ones once seen.
  EXPECT_THAT(text, HasSubstr("fleet_instance_restarts_total{engine=\"web\",index=\"1\",reason="
                              "\"unhealthy\"} 0\n"));
  EXPECT_THAT(text, Not(HasSubstr("index=\"1\",reason=\"timeout\"")));
  EXPECT_THAT(text, HasSubstr("fleet_app_cash{engine=\"web\",index=\"0\"} 41.5\n"));
  EXPECT_THAT(text, HasSubstr("fleet_app_api_calls{engine=\"web\",index=\"0\"} 7\n"));
  EXPECT_THAT(text, HasSubstr("fleet_app_queue_depth{engine=\"web\",index=\"0\"} 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("fleet_app_queue_depth{engine=\"web\",index=\"0\"} 2\n")));
  EXPECT_THAT(text, HasSubstr("fleet_instance_last_progress_age_seconds{engine=\"web\",index="
                              "\"0\"} 2.5\n"));
  EXPECT_THAT(text, Not(HasSubstr("fleet_instance_last_progress_age_seconds{engine=\"nightly\"")));
  EXPECT_THAT(text, HasSubstr("fleet_runs_total{engine=\"nightly\",index=\"0\",verdict="
                              "\"succeeded\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("fleet_run_duration_seconds_bucket{engine=\"nightly\",index=\"0\","
                              "le=\"0.1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("fleet_run_duration_seconds_bucket{engine=\"nightly\",index=\"0\","
                              "le=\"5\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("fleet_run_duration_seconds_bucket{engine=\"nightly\",index=\"0\","
                              "le=\"7200\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("fleet_run_duration_seconds_bucket{engine=\"nightly\",index=\"0\","
                              "le=\"+Inf\"} 4\n"));
  EXPECT_THAT(text,
              HasSubstr("fleet_run_duration_seconds_count{engine=\"nightly\",index=\"0\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("fleet_instance_start_time_seconds{engine=\"web\",index=\"0\"} "
                              "1733472001\n"));
  EXPECT_THAT(text,
              HasSubstr("fleet_instance_cpu_seconds_total{engine=\"web\",index=\"0\"} 1.5\n"));
  EXPECT_THAT(text,
              HasSubstr("fleet_instance_memory_rss_bytes{engine=\"web\",index=\"0\"} 4096\n"));
  EXPECT_THAT(text, HasSubstr("fleet_instance_healthy{engine=\"web\",index=\"0\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("fleet_instance_healthy{engine=\"web\",index=\"1\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("fleet_kill_condition_triggered{engine=\"web\",index=\"0\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("fleet_run_next_timestamp_seconds{engine=\"nightly\",index=\"0\"} "
                              "1733500000\n"));
  EXPECT_THAT(text, HasSubstr("fleet_build_info{version=\"0.1.0\",fleet=\"demo\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("fleet_daemon_loop_pass_seconds_bucket{le=\"1.6e-05\"} 10\n"));
  EXPECT_THAT(text, HasSubstr("fleet_daemon_loop_pass_seconds_count 27\n"));
  EXPECT_THAT(text, HasSubstr("fleet_daemon_loop_pass_seconds_sum 0.001234\n"));
  EXPECT_THAT(text, Not(HasSubstr("pid")));
  EXPECT_THAT(text, Not(HasSubstr("instance=")));  // Prometheus' own label.
  // No series for what does not apply: a stopped run's memory, a health
  // verdict that never came, a condition not declared.
  EXPECT_THAT(text, Not(HasSubstr("fleet_instance_memory_rss_bytes{engine=\"web\",index=\"1\"}")));
  EXPECT_THAT(text, Not(HasSubstr("fleet_instance_healthy{engine=\"nightly\"")));
  EXPECT_THAT(text, Not(HasSubstr("fleet_kill_condition_triggered{engine=\"web\",index=\"1\"}")));
}

TEST(FleetMetricsTest, PromtoolFindsNothingToSay) {
  EXPECT_EQ(Promtool(RenderFleetMetrics(AFleet(), Format::kPrometheusText)), "");
  // An empty fleet too.
  ctl::GetStatusResponse empty;
  empty.set_version("0.1.0");
  EXPECT_EQ(Promtool(RenderFleetMetrics(empty, Format::kPrometheusText)), "");
}

}  // namespace
}  // namespace fleet::metrics
