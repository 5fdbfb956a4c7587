#include "core/bus/run_state.h"

#include "core/bus/dag_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::bus {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

RunState NewRun(const std::string& yaml) {
  absl::StatusOr<v1::Dag> dag = LoadDagFromString(yaml, "t.yaml", "/tmp");
  EXPECT_TRUE(dag.ok()) << dag.status();
  RunState run(*dag);
  run.Advance(0);
  return run;
}

// Offers, claims and finishes `id` in one go.
void Finish(RunState& run, const std::string& id, bool ok, int64_t now = 0) {
  run.Published(id, now);
  run.Claimed(id, "w", now);
  ASSERT_TRUE(
      run.Result(id, run.status(id).attempt, ok, ok ? "out" : "", ok ? "" : "boom", now).ok());
  run.Advance(now);
}

TaskState St(const RunState& run, const std::string& id) { return run.status(id).state; }

TEST(RunStateTest, TasksBecomeReadyInDependencyOrder) {
  RunState run = NewRun(
      "tasks:\n  - {id: a, capability: x}\n  - {id: b, capability: x, needs: [a]}\n"
      "  - {id: c, capability: x, needs: [a]}\n  - {id: d, capability: x, needs: [b, c]}\n");
  EXPECT_THAT(run.ToPublish(0), ElementsAre("a"));
  Finish(run, "a", true);
  EXPECT_THAT(run.ToPublish(0), ElementsAre("b", "c"));
  Finish(run, "b", true);
  EXPECT_THAT(run.ToPublish(0), ElementsAre("c"));  // d waits for c.
  Finish(run, "c", true);
  Finish(run, "d", true);
  EXPECT_TRUE(run.Done());
  EXPECT_EQ(run.status("d").output, "out");
}

TEST(RunStateTest, TriggerRulesDecideWhatAFailureDoesDownstream) {
  RunState run = NewRun(
      "tasks:\n  - {id: a, capability: x}\n  - {id: ok, capability: x}\n"
      "  - {id: strict, capability: x, needs: [a, ok]}\n"
      "  - {id: cleanup, capability: x, needs: [a, ok], trigger_rule: all_done}\n"
      "  - {id: tolerant, capability: x, needs: [a, ok], trigger_rule: none_failed}\n"
      "  - {id: after, capability: x, needs: [strict]}\n");
  Finish(run, "a", false);
  Finish(run, "ok", true);
  EXPECT_EQ(St(run, "a"), TaskState::kFailed);
  EXPECT_EQ(St(run, "strict"), TaskState::kUpstreamFailed);
  EXPECT_EQ(run.status("strict").reason, "upstream a failed");
  EXPECT_EQ(St(run, "after"), TaskState::kUpstreamFailed);  // Propagates.
  EXPECT_EQ(run.status("after").reason, "upstream strict upstream_failed");
  EXPECT_EQ(St(run, "cleanup"), TaskState::kReady);  // all_done: runs anyway.
  EXPECT_EQ(St(run, "tolerant"), TaskState::kUpstreamFailed);
}

TEST(RunStateTest, ASkippedTaskSkipsItsDependentsUnlessTheyTolerateIt) {
  RunState run = NewRun(
      "tasks:\n  - {id: a, capability: gpu}\n  - {id: b, capability: x, needs: [a]}\n"
      "  - {id: c, capability: x, needs: [b]}\n"
      "  - {id: t, capability: x, needs: [a], trigger_rule: none_failed}\n");
  run.Skip("a", "no healthy worker with capability gpu", 0);
  run.Advance(0);
  EXPECT_EQ(St(run, "b"), TaskState::kSkipped);
  EXPECT_EQ(run.status("b").reason, "upstream a skipped");
  EXPECT_EQ(St(run, "c"), TaskState::kSkipped);
  EXPECT_EQ(St(run, "t"), TaskState::kReady);
  Finish(run, "t", true);
  EXPECT_TRUE(run.Done());
}

TEST(RunStateTest, RetriesWaitTheirDelayAndTheLastFailureSticks) {
  RunState run = NewRun("tasks:\n  - {id: a, capability: x, retries: 2, retry_delay: 1s}\n");
  Finish(run, "a", false, 0);
  EXPECT_EQ(St(run, "a"), TaskState::kReady);
  EXPECT_EQ(run.status("a").attempt, 2u);
  EXPECT_THAT(run.ToPublish(999), IsEmpty());
  EXPECT_THAT(run.ToPublish(1000), ElementsAre("a"));
  Finish(run, "a", false, 1000);
  EXPECT_THAT(run.ToPublish(2999), IsEmpty());  // Doubled: 2s.
  Finish(run, "a", false, 3000);
  EXPECT_EQ(St(run, "a"), TaskState::kFailed);
  EXPECT_THAT(run.status("a").reason, HasSubstr("failed on attempt 3: boom (after 2 retries)"));
}

TEST(RunStateTest, AHostileRetryDelayDoublesUpTo24Hours) {
  // 100 retries of a 100-year delay: 2^99 of them would overflow any clock.
  RunState run =
      NewRun("tasks:\n  - {id: a, capability: x, retries: 100, retry_delay: 876000h}\n");
  int64_t now = 0;
  for (int i = 0; i < 80; ++i) {
    Finish(run, "a", false, now);
    ASSERT_EQ(St(run, "a"), TaskState::kReady);
    const int64_t wait = run.status("a").retry_at_ms - now;
    ASSERT_GT(wait, 0);
    ASSERT_LE(wait, int64_t{24} * 3600 * 1000) << "retry " << i;
    now = run.status("a").retry_at_ms;
  }
}

TEST(RunStateTest, StaleAndDuplicateResultsAreRefused) {
  RunState run = NewRun("tasks:\n  - {id: a, capability: x}\n");
  run.Published("a", 0);
  run.Claimed("a", "w1", 0);
  run.Requeue("a", "worker w1 died", 5);  // Lost claim: attempt 2, not a failure.
  EXPECT_EQ(run.status("a").attempt, 2u);
  EXPECT_EQ(run.status("a").failures, 0u);
  absl::Status late = run.Result("a", 1, true, "late", "", 6);
  EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(late.message()), HasSubstr("stale"));
  run.Published("a", 7);
  run.Claimed("a", "w2", 7);
  EXPECT_TRUE(run.Result("a", 2, true, "fresh", "", 8).ok());
  EXPECT_EQ(run.status("a").output, "fresh");
  EXPECT_THAT(std::string(run.Result("a", 2, true, "again", "", 9).message()),
              HasSubstr("a duplicate"));
  EXPECT_EQ(run.status("a").output, "fresh");
  EXPECT_EQ(run.Result("zz", 1, true, "", "", 9).code(), absl::StatusCode::kNotFound);
}

TEST(RunStateTest, CancelEndsWhatIsLeftAndRetryBringsBackTheFailedBranch) {
  RunState run = NewRun(
      "tasks:\n  - {id: a, capability: x}\n  - {id: b, capability: x, needs: [a]}\n"
      "  - {id: c, capability: x}\n");
  Finish(run, "c", true);
  Finish(run, "a", false);
  EXPECT_EQ(St(run, "b"), TaskState::kUpstreamFailed);
  EXPECT_EQ(run.Retry("c", 1).code(), absl::StatusCode::kFailedPrecondition);  // It succeeded.
  ASSERT_TRUE(run.Retry("a", 1).ok());
  EXPECT_EQ(St(run, "a"), TaskState::kReady);
  EXPECT_EQ(run.status("a").attempt, 2u);  // Never reuses attempt 1's files.
  EXPECT_EQ(St(run, "b"), TaskState::kPending);
  EXPECT_EQ(St(run, "c"), TaskState::kSucceeded);
  run.Cancel("cancelled by the operator", 2);
  EXPECT_EQ(St(run, "a"), TaskState::kCancelled);
  EXPECT_EQ(St(run, "b"), TaskState::kCancelled);
  EXPECT_EQ(St(run, "c"), TaskState::kSucceeded);
  EXPECT_TRUE(run.Done());
}

}  // namespace
}  // namespace fleet::bus
