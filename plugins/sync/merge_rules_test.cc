#include "plugins/sync/merge_rules.h"

#include "gtest/gtest.h"

namespace fleet::plugins::sync {
namespace {

TEST(MergeRulesTest, FirstMatchingGlobWins) {
  std::vector<MergeRule> rules = {{"logs/*.txt", Strategy::kUnion},
                                  {"*.json", Strategy::kTheirs},
                                  {"*", Strategy::kKeepBoth}};
  EXPECT_EQ(RuleFor(rules, "logs/ledger.txt")->strategy, Strategy::kUnion);
  EXPECT_EQ(RuleFor(rules, "deep/dir/state.json")->strategy, Strategy::kTheirs);
  EXPECT_EQ(RuleFor(rules, "README.md")->strategy, Strategy::kKeepBoth);
  EXPECT_EQ(RuleFor({{"*.json", Strategy::kOurs}}, "notes.md"), nullptr);
  EXPECT_EQ(ParseStrategy("keep-both"), Strategy::kKeepBoth);
  EXPECT_FALSE(ParseStrategy("merge-somehow").has_value());
}

TEST(MergeRulesTest, UnionKeepsBothSidesAdditionsOnce) {
  EXPECT_EQ(UnionMerge("start\n", "start\nmine\n", "start\ntheirs\n"), "start\ntheirs\nmine\n");
  EXPECT_EQ(UnionMerge("a\n", "a\nsame\n", "a\nsame\n"), "a\nsame\n");
  EXPECT_EQ(UnionMerge("", "x\nx\n", "y"), "y\nx\nx\n");  // Repeats kept; newline supplied.
  EXPECT_EQ(UnionMerge("a\nb\n", "a\n", "a\nb\nc\n"), "a\nb\nc\n");  // A deletion is not an addition.
}

}  // namespace
}  // namespace fleet::plugins::sync
