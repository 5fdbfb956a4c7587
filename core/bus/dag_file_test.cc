#include "core/bus/dag_file.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::bus {
namespace {

using ::testing::HasSubstr;
namespace v1 = ::fleet::bus::v1;

std::string ErrorOf(const std::string& text) {
  absl::StatusOr<v1::Dag> dag = LoadDagFromString(text, "goal.yaml", "/nonexistent");
  return dag.ok() ? "(loaded)" : std::string(dag.status().message());
}

TEST(DagFileTest, LoadsYamlAndJsonWithDefaults) {
  absl::StatusOr<v1::Dag> dag = LoadDagFromString(
      "tasks:\n"
      "  - {id: fetch, capability: scrape, input: 'https://example.com'}\n"
      "  - {id: summarise, capability: llm, needs: [fetch], retries: 2}\n"
      "  - {id: report, capability: write, needs: [summarise], trigger_rule: all_done}\n",
      "goal.yaml", "/tmp");
  ASSERT_TRUE(dag.ok()) << dag.status();
  EXPECT_EQ(dag->name(), "goal");
  ASSERT_EQ(dag->tasks_size(), 3);
  EXPECT_EQ(dag->tasks(0).trigger_rule(), v1::TRIGGER_RULE_ALL_SUCCESS);
  EXPECT_EQ(dag->tasks(0).timeout().seconds(), 600);
  EXPECT_EQ(dag->tasks(1).retries(), 2u);
  EXPECT_EQ(dag->tasks(2).trigger_rule(), v1::TRIGGER_RULE_ALL_DONE);
  absl::StatusOr<v1::Dag> json = LoadDagFromString(
      R"({"name": "j", "tasks": [{"id": "a", "capability": "x"}]})", "j.json", "/tmp");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(json->name(), "j");
}

TEST(DagFileTest, InputFilesAreReadBesideTheDag) {
  const std::string dir = getenv("TEST_TMPDIR");
  std::ofstream(dir + "/prompt.txt") << "summarise the ledger";
  absl::StatusOr<v1::Dag> dag = LoadDagFromString(
      "tasks:\n  - {id: a, capability: llm, input_file: prompt.txt}\n", "g.yaml", dir);
  ASSERT_TRUE(dag.ok()) << dag.status();
  EXPECT_EQ(dag->tasks(0).input(), "summarise the ledger");
  EXPECT_THAT(ErrorOf("tasks:\n  - {id: a, capability: llm, input_file: nope.txt}\n"),
              HasSubstr("goal.yaml:2:42: input_file /nonexistent/nope.txt cannot be read"));
}

TEST(DagFileTest, AnInputFileOutsideTheDagsDirectoryIsRefused) {
  const std::string dir = std::string(getenv("TEST_TMPDIR")) + "/dag";
  std::filesystem::create_directories(dir);
  std::ofstream(std::string(getenv("TEST_TMPDIR")) + "/private.txt") << "not for workers";
  std::filesystem::create_symlink("../private.txt", dir + "/link.txt");
  auto error = [&](const std::string& input_file) {
    absl::StatusOr<v1::Dag> dag = LoadDagFromString(
        "tasks:\n  - {id: a, capability: llm, input_file: '" + input_file + "'}\n", "g.yaml", dir);
    return dag.ok() ? "(loaded: " + dag->tasks(0).input() + ")"
                    : std::string(dag.status().message());
  };
  EXPECT_THAT(error("/etc/shadow"), HasSubstr("input_file /etc/shadow is an absolute path"));
  EXPECT_THAT(error("../private.txt"), HasSubstr("outside"));
  EXPECT_THAT(error("link.txt"), HasSubstr("outside"));
}

TEST(DagFileTest, BadIdsUnknownNeedsAndCyclesAreRefusedWithTheirLine) {
  EXPECT_THAT(ErrorOf("tasks:\n  - {id: '../etc', capability: x}\n"),
              HasSubstr("goal.yaml:2:10: id '../etc' must be 1 to 100 of [A-Za-z0-9._-], "
                        "without '..'"));
  EXPECT_THAT(ErrorOf("tasks:\n  - {id: 'a b', capability: x}\n"), HasSubstr("id 'a b' must be"));
  EXPECT_THAT(ErrorOf("tasks:\n  - {id: " + std::string(101, 'a') + ", capability: x}\n"),
              HasSubstr("must be 1 to 100"));
  EXPECT_THAT(ErrorOf("tasks:\n  - {id: a, capability: x}\n  - {id: a, capability: y}\n"),
              HasSubstr("goal.yaml:3:10: task 'a' is declared twice (first at goal.yaml:2:10)"));
  EXPECT_THAT(ErrorOf("tasks:\n  - {id: a, capability: x, needs: [zz]}\n"),
              HasSubstr("goal.yaml:2:36: needs names 'zz', which is not a task of this DAG"));
  EXPECT_THAT(ErrorOf("tasks:\n  - {id: a, capability: x, needs: [a]}\n"),
              HasSubstr("task 'a' needs itself"));
  EXPECT_THAT(ErrorOf("tasks:\n  - {id: a, capability: x, needs: [c]}\n"
                      "  - {id: b, capability: x, needs: [a]}\n"
                      "  - {id: c, capability: x, needs: [b]}\n"),
              HasSubstr("needs makes a cycle: a -> c -> b -> a"));
  EXPECT_THAT(ErrorOf("tasks:\n  - {id: a}\n"), HasSubstr("task 'a' needs a capability"));
  EXPECT_THAT(ErrorOf("tasks: []\n"), HasSubstr("the DAG has no tasks"));
  EXPECT_THAT(ErrorOf("tasks:\n  - {id: a, capability: x, trigger_rule: sometimes}\n"),
              HasSubstr("goal.yaml:2:42: 'sometimes' is not a valid trigger_rule"));
  EXPECT_THAT(ErrorOf("tasks:\n  - {id: a, capabilty: x}\n"),
              HasSubstr("did you mean 'capability'"));
  EXPECT_THAT(ErrorOf("[1, 2]"), HasSubstr("a DAG file is a mapping"));
  EXPECT_THAT(ErrorOf("tasks: [\n"), HasSubstr("goal.yaml:2:1"));
}

TEST(DagFileTest, IdsNameFilesSafely) {
  for (const char* ok : {"a", "fetch-1", "step_2.b", "A.B"}) EXPECT_TRUE(IsValidId(ok)) << ok;
  for (const char* bad : {"", ".", "..", "a..b", "a/b", "a b", "é"}) {
    EXPECT_FALSE(IsValidId(bad)) << bad;
  }
}

}  // namespace
}  // namespace fleet::bus
