#include "core/bus/worker_client.h"

#include <stdlib.h>

#include "core/bus/conductor.h"
#include "core/bus/dag_file.h"
#include "gtest/gtest.h"

namespace fleet::bus {
namespace {

TEST(WorkerClientTest, AWorkerTakesTasksAndTheConductorSeesTheResults) {
  std::string tmpl = std::string(getenv("TEST_TMPDIR")) + "/run.XXXXXX";
  const std::string run_dir = mkdtemp(tmpl.data());
  Conductor conductor(run_dir + "/bus", /*fsync=*/false);
  std::vector<BusEvent> events;
  ASSERT_TRUE(conductor.Init(&events).ok());
  absl::StatusOr<v1::Dag> dag = LoadDagFromString(
      "tasks:\n  - {id: a, capability: sum, input: '1 2'}\n"
      "  - {id: b, capability: sum, input: '3 4', retries: 1, retry_delay: 0s}\n",
      "g.yaml", "/tmp");
  ASSERT_TRUE(dag.ok());
  ASSERT_TRUE(conductor.Submit(*dag, "r", 0).ok());
  FleetView view;
  view.declared = view.healthy = {"sum"};
  conductor.Pass(1, view);

  WorkerClient worker(run_dir, "cpp.0");
  int done = 0;
  for (int round = 0; round < 3; ++round) {
    while (auto task = worker.Claim("sum")) {
      ASSERT_TRUE(task->ok()) << task->status();
      const v1::TaskFile& t = **task;
      EXPECT_TRUE(worker.Heartbeat(t).ok());
      if (t.task() == "b" && t.attempt() == 1) {
        EXPECT_TRUE(worker.Fail(t, "flaky").ok());  // Retried as attempt 2.
      } else {
        EXPECT_TRUE(worker.Complete(t, "sum of " + t.input()).ok());
        ++done;
      }
    }
    conductor.Pass(2 + round, view);
  }
  EXPECT_EQ(done, 2);
  const RunState& state = *conductor.runs().at("r");
  EXPECT_TRUE(state.Done());
  EXPECT_EQ(state.status("a").output, "sum of 1 2");
  EXPECT_EQ(state.status("b").output, "sum of 3 4");
  EXPECT_EQ(state.status("b").attempt, 2u);
  EXPECT_FALSE(worker.Claim("nothing-here").has_value());
}

}  // namespace
}  // namespace fleet::bus
