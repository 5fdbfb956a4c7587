#include "plugins/formats/state_file_check.h"

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::plugins::formats {
namespace {

using ::testing::HasSubstr;

TEST(StateFileCheckTest, FormatsByExtensionOrDeclared) {
  EXPECT_EQ(FormatOf("a/b.json", ""), "json");
  EXPECT_EQ(FormatOf("b.yml", ""), "yaml");
  EXPECT_EQ(FormatOf("b.yaml", ""), "yaml");
  EXPECT_EQ(FormatOf("ledger.txt", ""), "text");
  EXPECT_EQ(FormatOf("state", "json"), "json");
}

TEST(StateFileCheckTest, JsonMustParseAndHoldItsKeys) {
  EXPECT_EQ(CheckStateFile("s.json", "{\"cash\": 3}"), "");
  EXPECT_THAT(CheckStateFile("s.json", "{\"cash\": "), HasSubstr("not valid JSON (line 1"));
  EXPECT_THAT(CheckStateFile("s.json", ""), HasSubstr("not valid JSON"));
  EXPECT_THAT(CheckStateFile("s.json", "{\"cash\": 3}", "", {"cash", "positions"}),
              HasSubstr("required key 'positions' is missing"));
  EXPECT_THAT(CheckStateFile("s.json", "[1]", "", {"cash"}), HasSubstr("not a JSON object"));
}

TEST(StateFileCheckTest, YamlMustParseWithoutRepeatedKeysAndHoldItsKeys) {
  EXPECT_EQ(CheckStateFile("s.yaml", "cash: 3\npositions: []\n", "", {"cash"}), "");
  EXPECT_THAT(CheckStateFile("s.yaml", "a: [1\n"), HasSubstr("not valid YAML (line"));
  EXPECT_THAT(CheckStateFile("s.yml", "cash: 1\ncash: 2\n"), HasSubstr("key 'cash' appears twice"));
  EXPECT_THAT(CheckStateFile("s.yaml", "cash: 3\n", "", {"positions"}),
              HasSubstr("required key 'positions' is missing"));
}

// A worker's 700-byte "billion laughs" (9^9 values through aliases) used to
// keep the check walking for minutes with every state instance WAITING.
TEST(StateFileCheckTest, AYamlAliasBombIsRefusedAtOnce) {
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'i'; ++c) {
    const char prev = static_cast<char>(c - 1);
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 9; ++i) bomb += std::string(i ? ", *" : "*") + prev;
    bomb += "]\n";
  }
  const absl::Time start = absl::Now();
  EXPECT_THAT(CheckStateFile("s.yaml", bomb), HasSubstr("aliases expand it past"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));  // Generous: it is milliseconds.
  // Aliases that do not multiply are fine.
  EXPECT_EQ(CheckStateFile("s.yaml", "base: &b {x: 1}\nuse: *b\n"), "");
}

// yaml-cpp 0.7 loops forever (growing memory) loading a stream like ","
// (found by tests/fuzz:state_check_fuzz).
TEST(StateFileCheckTest, YamlThatYamlCppCannotFinishIsRefused) {
  EXPECT_THAT(CheckStateFile("s.yaml", ","), HasSubstr("its parse does not end"));
  EXPECT_THAT(CheckStateFile("s.yaml", ", *a]\nc: &c b\n"), HasSubstr("not valid YAML"));
  EXPECT_EQ(CheckStateFile("s.yaml", "a: 1\n---\nb: 2\n"), "");
}

TEST(StateFileCheckTest, TextIsNotJudged) {
  EXPECT_EQ(CheckStateFile("notes.txt", "{{{ anything"), "");
}

}  // namespace
}  // namespace fleet::plugins::formats
