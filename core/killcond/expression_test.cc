#include "core/killcond/expression.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::killcond {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Truth Eval(const std::string& text, const absl::flat_hash_map<std::string, double>& vars) {
  auto e = Expression::Parse(text);
  EXPECT_TRUE(e.ok()) << text << ": " << e.status();
  return e.ok() ? e->Evaluate(vars).truth : Truth::kUnknown;
}

TEST(ExpressionTest, TheForgeOsCondition) {
  auto e = Expression::Parse("daily_loss > $10 OR cash < $20");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_THAT(e->variables(), ElementsAre("daily_loss", "cash"));
  Verdict v = e->Evaluate({{"daily_loss", 12.5}, {"cash", 40}});
  EXPECT_EQ(v.truth, Truth::kTrue);
  EXPECT_EQ(v.values, "daily_loss=12.5 cash=40");
  EXPECT_EQ(e->Evaluate({{"daily_loss", 3}, {"cash", 40}}).truth, Truth::kFalse);
  EXPECT_EQ(e->Evaluate({{"daily_loss", 3}, {"cash", 19.99}}).truth, Truth::kTrue);
}

TEST(ExpressionTest, OperatorsPrecedenceAndUnits) {
  EXPECT_EQ(Eval("a > 1 AND b > 1 OR c > 1", {{"a", 0}, {"b", 0}, {"c", 2}}), Truth::kTrue);
  EXPECT_EQ(Eval("a > 1 AND (b > 1 OR c > 1)", {{"a", 0}, {"b", 0}, {"c", 2}}), Truth::kFalse);
  EXPECT_EQ(Eval("NOT a > 1", {{"a", 0}}), Truth::kTrue);
  EXPECT_EQ(Eval("!(a >= 1) && b != 2 || false_var == 1", {{"a", 0}, {"b", 3}, {"false_var", 0}}),
            Truth::kTrue);
  EXPECT_EQ(Eval("drawdown > 5%", {{"drawdown", 6}}), Truth::kTrue);
  EXPECT_EQ(Eval("volume >= 1.5k", {{"volume", 1500}}), Truth::kTrue);
  EXPECT_EQ(Eval("lag > 2m", {{"lag", 121}}), Truth::kTrue);
  EXPECT_EQ(Eval("rss > 512MB", {{"rss", 600.0 * 1048576}}), Truth::kTrue);
  EXPECT_EQ(Eval("cash - reserve < $1,000", {{"cash", 1500}, {"reserve", 600}}), Truth::kTrue);
  EXPECT_EQ(Eval("pnl < -10", {{"pnl", -11}}), Truth::kTrue);
  EXPECT_EQ(Eval("wins / trades < 0.4", {{"wins", 3}, {"trades", 10}}), Truth::kTrue);
  EXPECT_EQ(Eval("pnl.daily < 0", {{"pnl.daily", -1}}), Truth::kTrue);
  EXPECT_EQ(Eval("a or b", {{"a", 0}, {"b", 1}}), Truth::kTrue);  // Keywords in any case.
}

TEST(ExpressionTest, UnpublishedVariablesAreUnknownAndReported) {
  auto e = Expression::Parse("daily_loss > $10 OR cash < $20");
  ASSERT_TRUE(e.ok());
  Verdict only_cash = e->Evaluate({{"cash", 50}});
  EXPECT_EQ(only_cash.truth, Truth::kUnknown);
  EXPECT_THAT(only_cash.missing, ElementsAre("daily_loss"));
  // Known to trip whatever the missing one says.
  EXPECT_EQ(e->Evaluate({{"cash", 5}}).truth, Truth::kTrue);
  EXPECT_EQ(Eval("a > 1 AND b > 1", {{"a", 0}}), Truth::kFalse);
  EXPECT_EQ(Eval("x / y > 1", {{"x", 1}, {"y", 0}}), Truth::kUnknown);  // Never trip on 1/0.
}

TEST(ExpressionTest, ErrorsNameTheColumn) {
  struct Case {
    const char* text;
    const char* error;
  } cases[] = {
      {"daily_loss > $", "column 14: expected a number after '$'"},
      {"a > 10 OR", "column 10: the expression ends where a value was expected"},
      {"a = 1", "column 3: '=' is not a comparison; use '=='"},
      {"(a > 1", "column 7: expected ')'"},
      {"a > 1)", "column 6: unexpected ')'"},
      {"a > 10 parsecs", "column 8: unexpected 'parsecs'"},
      {"a > 10xyz", "column 7: unknown unit 'xyz'"},
      {"a > 1 # b", "column 7: unexpected character '#'"},
      {"", "column 1: empty expression"},
      {"AND a", "column 1: expected a value before 'AND'"},
  };
  for (const Case& c : cases) {
    auto e = Expression::Parse(c.text);
    ASSERT_FALSE(e.ok()) << c.text;
    EXPECT_THAT(std::string(e.status().message()), HasSubstr(c.error)) << c.text;
  }
  EXPECT_EQ(ErrorColumn(Expression::Parse("a > $").status()), 5);
  std::string deep(200, '(');
  EXPECT_THAT(std::string(Expression::Parse(deep + "a").status().message()),
              HasSubstr("nesting is too deep"));
}

}  // namespace
}  // namespace fleet::killcond
