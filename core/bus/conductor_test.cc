#include "core/bus/conductor.h"

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "core/bus/dag_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::bus {
namespace {

using ::testing::HasSubstr;
namespace v1 = ::fleet::bus::v1;

class ConductorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = std::string(getenv("TEST_TMPDIR")) + "/bus.XXXXXX";
    dir_ = mkdtemp(tmpl.data());
    view_.declared = {"scrape", "llm", "gpu"};
    view_.healthy = {"scrape", "llm"};
    view_.workers = {{"w.0", 1}, {"w.1", 1}};
  }
  std::unique_ptr<Conductor> Start() {
    auto c = std::make_unique<Conductor>(dir_, /*fsync=*/false, /*lease_ms=*/10000);
    std::vector<BusEvent> events;
    EXPECT_TRUE(c->Init(&events).ok());
    return c;
  }
  static v1::Dag Dag(const std::string& yaml) {
    absl::StatusOr<v1::Dag> dag = LoadDagFromString(yaml, "goal.yaml", "/tmp");
    EXPECT_TRUE(dag.ok()) << dag.status();
    return *dag;
  }
  // A worker: claims one task of capability and answers it.
  std::string Work(const std::string& capability, const std::string& worker, bool ok) {
    Mailbox box(dir_, false);
    absl::StatusOr<std::optional<Claim>> claim = box.ClaimNext(capability, worker);
    if (!claim.ok() || !claim->has_value()) return "";
    v1::ResultFile r;
    r.set_run((*claim)->task.run());
    r.set_task((*claim)->task.task());
    r.set_attempt((*claim)->task.attempt());
    r.set_worker(worker);
    r.set_ok(ok);
    r.set_output(
        absl::StrCat("out of ", r.task(), " given ", (*claim)->task.upstream_size(), " upstream"));
    if (!ok) r.set_error("it broke");
    EXPECT_TRUE(box.Complete(r).ok());
    return r.task();
  }
  std::string dir_;
  FleetView view_;
};

TEST_F(ConductorTest, ADagFlowsThroughWorkersInOrderWithUpstreamOutputs) {
  auto c = Start();
  absl::StatusOr<std::string> run =
      c->Submit(Dag("tasks:\n  - {id: fetch, capability: scrape}\n"
                    "  - {id: sum, capability: llm, needs: [fetch]}\n"),
                "", 0);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(*run, "goal-1");
  c->Pass(1, view_);
  EXPECT_EQ(Work("llm", "w.1", true), "");  // sum is not offered before fetch ends.
  EXPECT_EQ(Work("scrape", "w.0", true), "fetch");
  c->Pass(2, view_);
  EXPECT_EQ(Work("llm", "w.1", true), "sum");
  c->Pass(3, view_);
  const RunState& state = *c->runs().at("goal-1");
  EXPECT_TRUE(state.Done());
  EXPECT_EQ(state.status("sum").output, "out of sum given 1 upstream");
  EXPECT_EQ(state.status("sum").state, TaskState::kSucceeded);
}

TEST_F(ConductorTest, NoHealthyWorkerSkipsTheTaskAndItsDependentsAndTheRunGoesOn) {
  auto c = Start();
  ASSERT_TRUE(c->Submit(Dag("tasks:\n  - {id: render, capability: gpu}\n"
                            "  - {id: post, capability: llm, needs: [render]}\n"
                            "  - {id: other, capability: llm}\n"),
                        "r", 0)
                  .ok());
  std::vector<BusEvent> events = c->Pass(1, view_);
  const RunState& state = *c->runs().at("r");
  EXPECT_EQ(state.status("render").state, TaskState::kSkipped);
  EXPECT_EQ(state.status("render").reason, "no healthy worker with capability gpu");
  EXPECT_EQ(state.status("post").state, TaskState::kSkipped);
  EXPECT_EQ(state.status("post").reason, "upstream render skipped");
  EXPECT_EQ(Work("llm", "w.0", true), "other");
  c->Pass(2, view_);
  EXPECT_TRUE(state.Done());
}

TEST_F(ConductorTest, ADeadWorkersClaimIsRequeuedAndItsLateResultRefused) {
  auto c = Start();
  ASSERT_TRUE(c->Submit(Dag("tasks:\n  - {id: a, capability: llm}\n"), "r", 0).ok());
  c->Pass(1, view_);
  Mailbox box(dir_, false);
  absl::StatusOr<std::optional<Claim>> claim = box.ClaimNext("llm", "w.0");
  ASSERT_TRUE(claim.ok() && claim->has_value());
  c->Pass(2, view_);
  EXPECT_EQ(c->runs().at("r")->status("a").state, TaskState::kClaimed);
  view_.workers["w.0"] = 0;  // Its worker died.
  std::vector<BusEvent> events = c->Pass(3, view_);
  EXPECT_EQ(c->runs().at("r")->status("a").attempt, 2u);
  // The dead worker's result for attempt 1 arrives late: refused.
  v1::ResultFile late;
  late.set_run("r");
  late.set_task("a");
  late.set_attempt(1);
  late.set_ok(true);
  ASSERT_TRUE(box.Complete(late).ok());
  events = c->Pass(4, view_);
  EXPECT_TRUE(std::any_of(events.begin(), events.end(), [](const BusEvent& e) {
    return e.kind == "result_quarantined" && e.message.find("stale") != std::string::npos;
  }));
  EXPECT_EQ(Work("llm", "w.1", true), "a");
  c->Pass(5, view_);
  EXPECT_EQ(c->runs().at("r")->status("a").state, TaskState::kSucceeded);
  EXPECT_THAT(c->runs().at("r")->status("a").reason, HasSubstr("attempt 2 by w.1"));
}

TEST_F(ConductorTest, ALapsedLeaseRequeuesAndATimeoutFails) {
  auto c = Start();
  ASSERT_TRUE(c->Submit(Dag("tasks:\n  - {id: a, capability: llm}\n"
                            "  - {id: b, capability: scrape, timeout: 5s}\n"),
                        "r", 0)
                  .ok());
  const int64_t now = absl::ToUnixMillis(absl::Now());
  c->Pass(now, view_);
  Mailbox box(dir_, false);
  ASSERT_TRUE(box.ClaimNext("llm", "w.0")->has_value());
  ASSERT_TRUE(box.ClaimNext("scrape", "w.1")->has_value());
  c->Pass(now + 1, view_);
  // 11s later with no heartbeat: a's lease (10s) lapsed; b's 5s timeout passed
  // first and fails it.
  std::vector<BusEvent> events = c->Pass(now + 11000, view_);
  EXPECT_TRUE(std::any_of(events.begin(), events.end(), [](const BusEvent& e) {
    return e.subject == "bus/r/a" && e.kind == "task_requeued" &&
           e.message.find("lease lapsed") != std::string::npos;
  }));
  EXPECT_EQ(c->runs().at("r")->status("a").attempt, 2u);
  EXPECT_EQ(c->runs().at("r")->status("b").state, TaskState::kFailed);
  EXPECT_THAT(c->runs().at("r")->status("b").reason, HasSubstr("timed out after 5s"));
}

TEST_F(ConductorTest, ARestartGoesOnFromTheFilesResultsWrittenMeanwhileIncluded) {
  {
    auto c = Start();
    ASSERT_TRUE(c->Submit(Dag("tasks:\n  - {id: a, capability: llm}\n"
                              "  - {id: b, capability: llm, needs: [a]}\n"),
                          "r", 0)
                    .ok());
    c->Pass(1, view_);
  }  // fleetd dies; a worker finishes a meanwhile.
  EXPECT_EQ(Work("llm", "w.0", true), "a");
  auto again = Start();
  ASSERT_EQ(again->runs().count("r"), 1u);
  again->Pass(2, view_);
  EXPECT_EQ(again->runs().at("r")->status("a").state, TaskState::kSucceeded);
  EXPECT_EQ(Work("llm", "w.0", true), "b");
  again->Pass(3, view_);
  EXPECT_TRUE(again->runs().at("r")->Done());
  // A restart after the end: nothing runs twice.
  auto third = Start();
  third->Pass(4, view_);
  EXPECT_TRUE(third->runs().at("r")->Done());
  EXPECT_TRUE(third->mailbox().Offered().empty());
}

TEST_F(ConductorTest, BadResultsAreQuarantinedWithTheirReason) {
  auto c = Start();
  ASSERT_TRUE(c->Submit(Dag("tasks:\n  - {id: a, capability: llm}\n"), "r", 0).ok());
  c->Pass(1, view_);
  std::ofstream(dir_ + "/results/r~a~1.json") << "{\"run\": \"r\", \"task\":";
  std::ofstream(dir_ + "/results/nope~a~1.json")
      << "{\"run\": \"nope\", \"task\": \"a\", \"attempt\": 1}";
  std::vector<BusEvent> events = c->Pass(2, view_);
  int quarantined = 0;
  for (const BusEvent& e : events) quarantined += e.kind == "result_quarantined";
  EXPECT_EQ(quarantined, 2);
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/quarantine/nope~a~1.json.why"));
  EXPECT_EQ(c->runs().at("r")->status("a").state, TaskState::kReady);  // Still offered.
}

// Tasks held back by the offer window wait for a claim (a file event, or
// the next poll), not for a deadline: one in the past made the loop pass
// after pass without pause (found with 1,000 waiting tasks: a core).
TEST_F(ConductorTest, TasksHeldByTheOfferWindowSetNoDeadline) {
  auto c = Start();
  std::string yaml = "tasks:\n";
  for (int i = 0; i < 200; ++i) absl::StrAppend(&yaml, "  - {id: t", i, ", capability: llm}\n");
  const int64_t now = 1'000'000;
  ASSERT_TRUE(c->Submit(Dag(yaml), "big", now).ok());
  (void)c->Pass(now, view_);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_ + "/new/llm"),
                          std::filesystem::directory_iterator()),
            64);
  const std::optional<int64_t> next = c->NextDeadline();
  EXPECT_TRUE(!next.has_value() || *next > now) << *next;
  // A claim makes room: the next pass offers one more.
  ASSERT_NE(Work("llm", "w.0", true), "");
  (void)c->Pass(now + 10, view_);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_ + "/new/llm"),
                          std::filesystem::directory_iterator()),
            64);
}

TEST_F(ConductorTest, CancelTakesBackOfferedTasks) {
  auto c = Start();
  ASSERT_TRUE(c->Submit(Dag("tasks:\n  - {id: a, capability: llm}\n"), "r", 0).ok());
  c->Pass(1, view_);
  ASSERT_EQ(c->mailbox().Offered().size(), 1u);
  ASSERT_TRUE(c->Cancel("r", 2).ok());
  EXPECT_TRUE(c->mailbox().Offered().empty());
  EXPECT_EQ(c->runs().at("r")->status("a").state, TaskState::kCancelled);
  EXPECT_EQ(c->Cancel("zz", 2).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(c->Submit(Dag("tasks:\n  - {id: a, capability: llm}\n"), "r", 3).status().code(),
            absl::StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace fleet::bus
