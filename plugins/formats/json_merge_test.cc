#include "plugins/formats/json_merge.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::plugins::formats {
namespace {

using ::testing::HasSubstr;

Json J(const std::string& text) {
  std::string error;
  std::optional<Json> v = ParseJson(text, &error);
  EXPECT_TRUE(v.has_value()) << text << ": " << error;
  return v.value_or(Json());
}

TEST(JsonTest, ParsesAndWritesRoundTrip) {
  Json v = J(R"({"a": 1, "b": [true, null, "x\"y"], "c": {"d": -2.5e3}})");
  EXPECT_EQ(WriteJson(v),
            "{\n  \"a\": 1,\n  \"b\": [\n    true,\n    null,\n    \"x\\\"y\"\n  ],\n  \"c\": {\n"
            "    \"d\": -2.5e3\n  }\n}\n");
  EXPECT_EQ(J(WriteJson(v)), v);
}

TEST(JsonTest, ErrorsSayWhere) {
  std::string error;
  EXPECT_FALSE(ParseJson("{\"a\": 1,\n  \"b\" 2}", &error).has_value());
  EXPECT_THAT(error, HasSubstr("line 2 column 7: ':' was expected"));
  EXPECT_FALSE(ParseJson("<<<<<<< HEAD\n{}", &error).has_value());
  EXPECT_FALSE(ParseJson("{} {}", &error).has_value());
  EXPECT_FALSE(ParseJson(std::string(1000, '['), &error).has_value());
  EXPECT_THAT(error, HasSubstr("too deep"));
  // Found by tests/fuzz:json_merge_fuzz: a repeated key made a value unequal
  // to itself (and its merge ambiguous).
  EXPECT_FALSE(ParseJson("{\"cash\": 41,\n \"cash\": 40}", &error).has_value());
  EXPECT_THAT(error, HasSubstr("line 2 column 2: key 'cash' appears twice"));
  // Also found by it: escapes JSON does not have were taken as they came.
  EXPECT_FALSE(ParseJson("[\"x\\u\x1d\x1c12\"]", &error).has_value());
  EXPECT_THAT(error, HasSubstr("\\u must be followed by four hex digits"));
  EXPECT_FALSE(ParseJson("[\"a\\qb\"]", &error).has_value());
  EXPECT_THAT(error, HasSubstr("'\\q' is not a JSON escape"));
  // Escapes are decoded: one value, however it was spelled, written back
  // the same way every time.
  std::optional<Json> decoded = ParseJson("[\"caf\\u00e9 \\/ \\\" \\\\ \\f \\ud83d\\ude80\"]", &error);
  ASSERT_TRUE(decoded.has_value()) << error;
  EXPECT_EQ(decoded->items[0].text, "caf\xC3\xA9 / \" \\ \f \xF0\x9F\x9A\x80");
  std::optional<Json> again = ParseJson(WriteJson(*decoded), &error);
  ASSERT_TRUE(again.has_value()) << error;
  EXPECT_EQ(*again, *decoded);
  EXPECT_FALSE(ParseJson("[\"\\ud83d\"]", &error).has_value());
  EXPECT_THAT(error, HasSubstr("high surrogate without its low half"));
}

TEST(JsonTest, ThreeWayMergeByKey) {
  Json base = J(R"({"cash": 40, "positions": {"BTC": 1, "ETH": 2}, "note": "x"})");
  Json ours = J(R"({"cash": 35, "positions": {"BTC": 1, "ETH": 3}, "note": "x"})");
  Json theirs = J(R"({"cash": 40, "positions": {"BTC": 2, "ETH": 2}, "note": "x", "new": true})");
  EXPECT_EQ(MergeJson(&base, ours, theirs, /*ours_wins=*/false),
            J(R"({"cash": 35, "positions": {"BTC": 2, "ETH": 3}, "note": "x", "new": true})"));
  // Both changed one key: the declared winner takes it.
  Json a = J(R"({"cash": 30})"), b = J(R"({"cash": 20})");
  EXPECT_EQ(MergeJson(&base, a, b, true), J(R"({"cash": 30})"));
  EXPECT_EQ(MergeJson(&base, a, b, false), J(R"({"cash": 20})"));
  // A deletion on one side with no change on the other is a deletion.
  EXPECT_EQ(MergeJson(&base, J(R"({"cash": 40, "positions": {"BTC": 1, "ETH": 2}})"), base, false),
            J(R"({"cash": 40, "positions": {"BTC": 1, "ETH": 2}})"));
}

}  // namespace
}  // namespace fleet::plugins::formats
