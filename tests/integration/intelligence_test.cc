// Intelligence engines through the real fleetd, with a fake LLM CLI
// (tests/testdata/fake_llm.sh) that answers well, answers malformed JSON,
// answers endlessly, never answers, asks for input, or reports a rate limit:
// each run gets the right verdict and nothing hangs. Then the judge, the
// daily budget, and delivery into the shared state.
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/integration/fleet_harness.h"
#include "tests/integration/git_remote.h"

namespace fleet::testing {
namespace {

using ::testing::HasSubstr;
namespace ctl = ::fleet::control::v1;

// The newest finished run of target ("" verdict while none has finished).
ctl::RunRecord LastRun(const FleetHarness& h, const std::string& target) {
  ctl::ListRunsResponse runs;
  CommandResult r = h.Fleetctl({"runs", target, "-n", "50", "-o", "protojson"});
  if (r.exit_code == 0) (void)google::protobuf::util::JsonStringToMessage(r.out, &runs);
  for (const ctl::RunRecord& run : runs.runs()) {
    if (run.verdict() != "running" && run.verdict() != "judging") return run;
  }
  return ctl::RunRecord();
}

// Starts a run of target now and waits for its verdict.
ctl::RunRecord RunAndWait(const FleetHarness& h, const std::string& target,
                          absl::Duration timeout = absl::Seconds(15)) {
  const uint64_t before = LastRun(h, target).seq();
  CommandResult run = h.Fleetctl({"run", target});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  ctl::RunRecord last;
  FleetHarness::WaitUntil(
      [&] {
        last = LastRun(h, target);
        return last.seq() > before;
      },
      timeout);
  return last;
}

std::string Llm(const std::string& name, const std::string& mode, const std::string& extra = "") {
  return absl::StrCat("  - name: ", name, "\n    type: intelligence\n    schedule: '@yearly'\n",
                      "    command: [\"", FleetHarness::RunfilePath("tests/testdata/fake_llm.sh"),
                      "\", \"", mode, "\"]\n    restart: never\n    timeout: 2s\n",
                      "    stop: {grace: 500ms}\n", extra);
}

const char kJsonChecks[] =
    "    output:\n      format: json\n      max_size: 4KB\n      required_keys: [summary]\n"
    "      must_not_match: ['(?i)as an ai']\n"
    "    budget: {rate_limit_exit_codes: [75], rate_limit_backoff: {initial: 1h}}\n";

TEST(IntelligenceTest, EachKindOfAnswerGetsItsVerdictAndNothingHangs) {
  FleetHarness h;
  std::string engines;
  for (const char* mode : {"good", "malformed", "endless", "hang", "ask", "ratelimit"}) {
    std::string checks = kJsonChecks;
    if (std::string(mode) == "good") {
      // deliver belongs to output:, before the budget line.
      checks.insert(checks.find("    budget:"), "      deliver: out/{instance}.json\n");
    }
    engines += Llm(mode, mode, checks);
  }
  h.WriteFile("fleet.yaml", FleetYaml(engines));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();

  const absl::Time start = absl::Now();
  ctl::RunRecord good = RunAndWait(h, "good");
  EXPECT_EQ(good.verdict(), "succeeded") << good.DebugString();
  EXPECT_THAT(good.reason(), HasSubstr("delivered to"));
  EXPECT_EQ(FleetHarness::FileText(h.dir() + "/out/0.json"),
            "{\"summary\": \"markets calm\", \"action\": \"HOLD\", \"confidence\": 0.8}\n");

  ctl::RunRecord malformed = RunAndWait(h, "malformed");
  EXPECT_EQ(malformed.verdict(), "rejected");
  EXPECT_THAT(malformed.reason(), HasSubstr("not valid JSON"));

  ctl::RunRecord endless = RunAndWait(h, "endless");
  EXPECT_EQ(endless.verdict(), "rejected") << endless.DebugString();
  EXPECT_THAT(endless.reason(), HasSubstr("passed output.max_size (4096 bytes)"));
  EXPECT_LT(endless.duration_ms(), 1900);  // Stopped at the cap, not the timeout.

  ctl::RunRecord hang = RunAndWait(h, "hang");
  EXPECT_EQ(hang.verdict(), "timed_out");

  ctl::RunRecord ask = RunAndWait(h, "ask");
  EXPECT_EQ(ask.verdict(), "rejected") << ask.DebugString();  // {"reply": ""}: no summary.
  EXPECT_THAT(ask.reason(), HasSubstr("required key 'summary' is missing"));
  EXPECT_LT(ask.duration_ms(), 1500);  // stdin is /dev/null: no wait for an answer.

  ctl::RunRecord limited = RunAndWait(h, "ratelimit");
  EXPECT_EQ(limited.verdict(), "rate_limited");
  EXPECT_THAT(limited.reason(), HasSubstr("calls resume in 1h"));
  CommandResult again = h.Fleetctl({"run", "ratelimit"});
  EXPECT_THAT(again.out, HasSubstr("skipped: rate limited"));
  EXPECT_EQ(LastRun(h, "ratelimit").verdict(), "skipped");

  EXPECT_LT(absl::Now() - start, absl::Seconds(40));
  EXPECT_THAT(h.Fleetctl({"logs", "ratelimit"}).err, HasSubstr("429 rate limit"));  // stderr.
}

TEST(IntelligenceTest, AJudgeAcceptsWithAScoreRefusesOrRunsOutOfTime) {
  FleetHarness h;
  h.WriteFile("judge.sh",
              "grep -q HOLD && echo 'score: 0.75' && exit 0; echo 'no action'; exit 1\n");
  h.WriteFile(
      "fleet.yaml",
      FleetYaml(
          Llm("judged", "good",
              "    output:\n      format: json\n      judge: {command: [sh, judge.sh]}\n") +
          Llm("refused", "malformed", "    output:\n      judge: {command: [sh, judge.sh]}\n") +
          Llm("slow", "good",
              "    output:\n      judge: {command: [sleep, '100'], timeout: 1s}\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ctl::RunRecord judged = RunAndWait(h, "judged");
  EXPECT_EQ(judged.verdict(), "succeeded") << judged.DebugString();
  EXPECT_EQ(judged.score(), "0.75");
  ctl::RunRecord refused = RunAndWait(h, "refused");
  EXPECT_EQ(refused.verdict(), "rejected");
  EXPECT_THAT(refused.reason(),
              HasSubstr("its judge refused it (exited with status 1): no action"));
  ctl::RunRecord slow = RunAndWait(h, "slow");
  EXPECT_EQ(slow.verdict(), "rejected");
  EXPECT_THAT(slow.reason(), HasSubstr("did not answer within 1s"));
}

TEST(IntelligenceTest, TheDailyBudgetSkipsRunsPastIt) {
  FleetHarness h;
  h.WriteFile("fleet.yaml",
              FleetYaml(Llm("capped", "good", "    budget: {max_runs_per_day: 2}\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  EXPECT_EQ(RunAndWait(h, "capped").verdict(), "succeeded");
  EXPECT_EQ(RunAndWait(h, "capped").verdict(), "succeeded");
  CommandResult third = h.Fleetctl({"run", "capped"});
  EXPECT_THAT(third.out, HasSubstr("skipped: budget: 2 runs today, max_runs_per_day is 2"));
}

TEST(IntelligenceTest, AnAcceptedAnswerIsDeliveredIntoTheStateAndPushed) {
  FleetHarness h;
  const std::string remote_path = InitBareRemote(h.dir());
  h.WriteFile("fleet.yaml",
              absl::StrCat("name: it\nrun_dir: run\nstate: {remote: remote.git}\nengines:\n",
                           Llm("analyst", "good",
                               "    state: true\n    output:\n      format: json\n"
                               "      deliver: reports/latest.json\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  EXPECT_EQ(RunAndWait(h, "analyst").verdict(), "succeeded");
  Remote remote(remote_path);
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return !remote.File("reports/latest.json").empty(); },
                                      absl::Seconds(15)))
      << h.Fleetctl({"events", "-n", "50"}).out;
  EXPECT_THAT(remote.File("reports/latest.json"), HasSubstr("markets calm"));
}

}  // namespace
}  // namespace fleet::testing
