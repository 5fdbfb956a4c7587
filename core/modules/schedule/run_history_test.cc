#include "core/modules/schedule/run_history.h"

#include <stdlib.h>

#include <fstream>
#include <sstream>

#include "core/os/env.h"
#include "gtest/gtest.h"
#include "tests/fakes/fault_env.h"

namespace fleet::modules {
namespace {

namespace ctl = ::fleet::control::v1;

std::string TempPath() {
  std::string tmpl = std::string(getenv("TEST_TMPDIR")) + "/runs.XXXXXX";
  return std::string(mkdtemp(tmpl.data())) + "/runs/w.0.jsonl";
}

int LinesIn(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) ++n;
  return n;
}

ctl::RunRecord Record(const std::string& verdict, int64_t slot_ms) {
  ctl::RunRecord r;
  r.set_instance("w/0");
  r.set_verdict(verdict);
  r.set_slot_unix_ms(slot_ms);
  return r;
}

// Found by tests/fault:env_sweep_test: a run acknowledged (listed by
// `fleetctl runs`) whose line could not be written was gone after a restart.
TEST(RunHistoryTest, ARunWhoseLineCouldNotBeWrittenIsWrittenLater) {
  for (os::EnvOp op : {os::EnvOp::kOpen, os::EnvOp::kWrite}) {
    const std::string path = TempPath();
    RunHistory h(path, 5);
    std::vector<std::string> errors;
    h.Load(&errors);
    ASSERT_TRUE(h.Append(Record("succeeded", 1000)).ok());
    testing::FaultEnv env(os::DefaultEnv());
    env.FailNth(op, 1, EIO);
    os::SetEnvForTesting(&env);
    const absl::Status failed = h.Append(Record("succeeded", 2000));
    os::SetEnvForTesting(nullptr);
    ASSERT_FALSE(failed.ok());
    EXPECT_TRUE(h.behind());
    EXPECT_EQ(h.runs().size(), 2u);  // Still listed.
    ASSERT_TRUE(h.Flush().ok());
    EXPECT_FALSE(h.behind());
    RunHistory reread(path, 5);
    reread.Load(&errors);
    EXPECT_TRUE(errors.empty());
    ASSERT_EQ(reread.runs().size(), 2u) << os::EnvOpName(op);
    EXPECT_EQ(reread.runs().back().slot_unix_ms(), 2000);
  }
}

TEST(RunHistoryTest, KeepsTheLastRunsAcrossARestartWithIncreasingNumbers) {
  const std::string path = TempPath();
  {
    RunHistory h(path, 5);
    std::vector<std::string> errors;
    h.Load(&errors);
    EXPECT_TRUE(errors.empty());
    for (int i = 0; i < 12; ++i) ASSERT_TRUE(h.Append(Record("succeeded", 1000 * i)).ok());
    EXPECT_EQ(h.runs().size(), 5u);
    EXPECT_EQ(h.runs().back().seq(), 12u);
    EXPECT_LT(LinesIn(path), 10);  // Compacted, never more than twice `keep`.
  }
  RunHistory again(path, 5);
  std::vector<std::string> errors;
  again.Load(&errors);
  ASSERT_EQ(again.runs().size(), 5u);
  EXPECT_EQ(again.runs().back().slot_unix_ms(), 11000);
  EXPECT_EQ(again.runs().front().seq(), 8u);
  EXPECT_EQ(again.next_seq(), 13u);
}

TEST(RunHistoryTest, ACutOrForeignLineIsSkippedAndNamedTheRestKept) {
  const std::string path = TempPath();
  {
    RunHistory h(path, 10);
    std::vector<std::string> errors;
    h.Load(&errors);
    ASSERT_TRUE(h.Append(Record("succeeded", 1)).ok());
    ASSERT_TRUE(h.Append(Record("failed", 2)).ok());
  }
  std::ofstream(path, std::ios::app) << "{\"seq\": \"3\", \"verdi\n";  // A crash mid-write.
  RunHistory h(path, 10);
  std::vector<std::string> errors;
  h.Load(&errors);
  EXPECT_EQ(h.runs().size(), 2u);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("w.0.jsonl:3:"), std::string::npos) << errors[0];
  ASSERT_TRUE(h.Append(Record("succeeded", 4)).ok());
  EXPECT_EQ(h.runs().back().seq(), 3u);
}

}  // namespace
}  // namespace fleet::modules
