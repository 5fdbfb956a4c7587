#include "core/killcond/metrics.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::killcond {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

TEST(MetricsTest, ParsesLines) {
  Metrics m;
  ASSERT_TRUE(ParseMetricLine("FLEET_METRIC cash=41.5 daily_loss=$3 drawdown=2%", &m).ok());
  EXPECT_THAT(m, UnorderedElementsAre(Pair("cash", 41.5), Pair("daily_loss", 3),
                                      Pair("drawdown", 2)));
  Metrics bad;
  absl::Status status = ParseMetricLine("FLEET_METRIC ok=1 cash=lots", &bad);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("value of 'cash' is not a number: 'lots'"));
  EXPECT_EQ(bad.at("ok"), 1);  // What came before the bad pair is kept.
  EXPECT_FALSE(ParseMetricLine("FLEET_METRIC 1x=2", &bad).ok());
}

TEST(MetricsTest, ParsesJsonFilesFlatteningObjects) {
  auto m = ParseMetricsJson(R"({"cash": 40, "pnl": {"daily": -3.5}, "live": true,
                                "note": "x", "list": [1, 2], "nothing": null})");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT(*m, UnorderedElementsAre(Pair("cash", 40), Pair("pnl.daily", -3.5), Pair("live", 1)));
  EXPECT_EQ(ParseMetricsJson("{\"cash\": ").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseMetricsJson("[1, 2]").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseMetricsJson(std::string(2 << 20, ' ')).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += "{\"a\":";
  EXPECT_FALSE(ParseMetricsJson(deep).ok());
}

TEST(MetricsTest, ScannerFindsMarkerLinesAcrossChunks) {
  MetricLineScanner scanner;
  std::vector<std::string> lines;
  auto collect = [&](absl::string_view line) { lines.emplace_back(line); };
  scanner.Feed("hello\nFLEET_MET", collect);
  scanner.Feed("RIC cash=1\nnoise FLEET_METRIC x=1\nFLEET_METRIC y=2", collect);
  EXPECT_THAT(lines, ::testing::ElementsAre("FLEET_METRIC cash=1"));
  scanner.Feed("\n", collect);
  EXPECT_THAT(lines, ::testing::ElementsAre("FLEET_METRIC cash=1", "FLEET_METRIC y=2"));
}

}  // namespace
}  // namespace fleet::killcond
