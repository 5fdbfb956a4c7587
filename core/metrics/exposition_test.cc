#include "core/metrics/exposition.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ExpositionTest, CountersGaugesAndEscapedLabelsInTheTextFormat) {
  Exposition out(Format::kPrometheusText);
  out.Family("fleet_x_total", Type::kCounter, "Things done\nso far \\ here");
  out.Sample({{"engine", "a\"b\\c\nd"}, {"index", "0"}}, 3);
  out.Family("fleet_y", Type::kGauge, "A level");
  out.Sample({}, 0.25);
  EXPECT_EQ(out.Finish(),
            "# HELP fleet_x_total Things done\\nso far \\\\ here\n"
            "# TYPE fleet_x_total counter\n"
            "fleet_x_total{engine=\"a\\\"b\\\\c\\nd\",index=\"0\"} 3\n"
            "# HELP fleet_y A level\n"
            "# TYPE fleet_y gauge\n"
            "fleet_y 0.25\n");
}

TEST(ExpositionTest, OpenMetricsNamesCounterFamiliesWithoutTotalAndEndsInEof) {
  Exposition out(Format::kOpenMetrics);
  out.Family("fleet_x_total", Type::kCounter, "Say \"hi\"");
  out.Sample({}, 1);
  const std::string text = out.Finish();
  EXPECT_THAT(text, HasSubstr("# HELP fleet_x Say \\\"hi\\\"\n# TYPE fleet_x counter\n"));
  EXPECT_THAT(text, HasSubstr("\nfleet_x_total 1\n"));
  EXPECT_THAT(text, testing::EndsWith("# EOF\n"));
}

TEST(ExpositionTest, HistogramBucketsAreCumulativeAndEndAtInf) {
  Exposition out(Format::kPrometheusText);
  out.Family("fleet_h_seconds", Type::kHistogram, "Durations");
  out.Histogram({{"engine", "a"}}, {0.1, 1}, {2, 3}, 4.5, 7);
  EXPECT_THAT(out.Finish(), HasSubstr("fleet_h_seconds_bucket{engine=\"a\",le=\"0.1\"} 2\n"
                                      "fleet_h_seconds_bucket{engine=\"a\",le=\"1\"} 5\n"
                                      "fleet_h_seconds_bucket{engine=\"a\",le=\"+Inf\"} 7\n"
                                      "fleet_h_seconds_sum{engine=\"a\"} 4.5\n"
                                      "fleet_h_seconds_count{engine=\"a\"} 7\n"));
}

TEST(ExpositionTest, BadNamesAreDroppedNotEmitted) {
  Exposition out(Format::kPrometheusText);
  out.Family("9lives", Type::kGauge, "starts with a digit");
  out.Sample({}, 1);
  out.Family("fleet_done", Type::kCounter, "a counter must end in _total");
  out.Sample({}, 1);
  out.Family("fleet_ok", Type::kGauge, "fine");
  out.Sample({{"bad-label", "x"}, {"__reserved", "y"}, {"good", "z"}}, 1);
  const std::string text = out.Finish();
  EXPECT_THAT(text, Not(HasSubstr("9lives")));
  EXPECT_THAT(text, Not(HasSubstr("fleet_done")));
  EXPECT_THAT(text, HasSubstr("fleet_ok{good=\"z\"} 1\n"));
  EXPECT_EQ(SanitizeName("api-calls.total"), "api_calls_total");
  EXPECT_EQ(SanitizeName("7up"), "_7up");
  EXPECT_TRUE(ValidMetricName("a:b_c"));
  EXPECT_FALSE(ValidLabelName("a:b"));
}

TEST(ExpositionTest, ValuesRoundTripAndSpecialValuesAreSpelledAsScrapersExpect) {
  EXPECT_EQ(FormatValue(1733472000.123), "1733472000.123");  // Not 1.73347e+09.
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(3), "3");
  EXPECT_EQ(FormatValue(NAN), "NaN");
  EXPECT_EQ(FormatValue(INFINITY), "+Inf");
  EXPECT_EQ(FormatValue(-INFINITY), "-Inf");
  EXPECT_EQ(FormatFor("application/openmetrics-text; version=1.0.0,text/plain;q=0.5"),
            Format::kOpenMetrics);
  EXPECT_EQ(FormatFor("text/plain"), Format::kPrometheusText);
  EXPECT_EQ(FormatFor(""), Format::kPrometheusText);
}

}  // namespace
}  // namespace fleet::metrics
