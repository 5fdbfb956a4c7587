#include "core/intel/answer_check.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::intel {
namespace {

using ::testing::HasSubstr;
namespace v1 = ::fleet::config::v1;

v1::Output Json(std::vector<std::string> keys) {
  v1::Output o;
  o.set_format("json");
  for (auto& k : keys) o.add_required_keys(k);
  return o;
}

TEST(AnswerCheckTest, JsonWithItsKeysPasses) {
  EXPECT_EQ(CheckAnswer(Json({"summary", "score"}), R"({"summary": "up", "score": 0.8})"), "");
  EXPECT_THAT(CheckAnswer(Json({}), R"({"summary": )"), HasSubstr("not valid JSON"));
  EXPECT_EQ(CheckAnswer(Json({"score"}), R"({"summary": "up"})"),
            "required key 'score' is missing");
  EXPECT_THAT(CheckAnswer(Json({"score"}), "[1, 2]"), HasSubstr("not a mapping"));
}

TEST(AnswerCheckTest, YamlParsesWithPositionsAndKeys) {
  v1::Output o;
  o.set_format("yaml");
  o.add_required_keys("plan");
  EXPECT_EQ(CheckAnswer(o, "plan: [a, b]\nrisk: low\n"), "");
  EXPECT_EQ(CheckAnswer(o, "risk: low\n"), "required key 'plan' is missing");
  EXPECT_THAT(CheckAnswer(o, "plan: [a, b\n"), HasSubstr("not valid YAML (answer:"));
}

TEST(AnswerCheckTest, PatternsAndLengths) {
  v1::Output o;
  o.add_must_match("BUY|SELL|HOLD");
  o.add_must_not_match("(?i)as an ai");
  o.set_min_length(4);
  o.set_max_length(100);
  EXPECT_EQ(CheckAnswer(o, "HOLD for now"), "");
  EXPECT_EQ(CheckAnswer(o, "wait and see"), "does not match must_match 'BUY|SELL|HOLD'");
  EXPECT_EQ(CheckAnswer(o, "As an AI, I would HOLD"), "matches must_not_match '(?i)as an ai'");
  EXPECT_EQ(CheckAnswer(o, "BUY"), "3 bytes, below min_length 4");
  EXPECT_THAT(CheckAnswer(o, std::string(200, 'x') + "BUY"), HasSubstr("above max_length 100"));
  EXPECT_EQ(CheckAnswer(v1::Output(), ""), "");  // Text with no checks: anything goes.
}

TEST(AnswerCheckTest, RateLimitsByExitCodeOrPattern) {
  v1::Budget b;
  b.add_rate_limit_exit_codes(75);
  b.set_rate_limit_pattern("(?i)rate.?limit|429");
  EXPECT_TRUE(RateLimited(b, 75, ""));
  EXPECT_TRUE(RateLimited(b, 1, "Error: Rate limit exceeded"));
  EXPECT_TRUE(RateLimited(b, 1, "HTTP 429"));
  EXPECT_FALSE(RateLimited(b, 1, "syntax error"));
  EXPECT_FALSE(RateLimited(v1::Budget(), 75, "rate limit"));
}

TEST(AnswerCheckTest, BadPatternsAreRefusedWithWhy) {
  EXPECT_TRUE(CheckPattern("(?i)ok").ok());
  EXPECT_THAT(std::string(CheckPattern("([a-").message()),
              HasSubstr("'([a-' is not a valid regular expression"));
}

// std::regex recursed once per character here and overflowed the stack on a
// 1 MB answer; RE2 is linear.
TEST(AnswerCheckTest, AHugeAnswerAgainstABacktrackingPatternIsJudgedNotCrashedOn) {
  v1::Output o;
  o.add_must_match("(a|b)*c");
  const std::string answer(1 << 20, 'a');
  EXPECT_EQ(CheckAnswer(o, answer), "does not match must_match '(a|b)*c'");
  EXPECT_EQ(CheckAnswer(o, answer + "c"), "");
}

}  // namespace
}  // namespace fleet::intel
