// The work-bus through the real fleetd, with shell workers that use
// `fleetctl bus claim/complete/fail`: a DAG runs in order with upstream
// results, a missing capability is skipped with its dependents, a worker
// killed mid-task has its task re-queued and completed once, fleetd killed
// mid-run goes on from the files, and bad results are quarantined.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/integration/fleet_harness.h"

namespace fleet::testing {
namespace {

using ::testing::HasSubstr;
namespace ctl = ::fleet::control::v1;
namespace fs = std::filesystem;

// Task states of run by id ("" while fleetd cannot say).
std::map<std::string, ctl::BusTaskStatus> Tasks(const FleetHarness& h, const std::string& run) {
  std::map<std::string, ctl::BusTaskStatus> out;
  CommandResult r = h.Fleetctl({"bus", "status", run, "-o", "protojson"});
  ctl::BusStatusResponse status;
  if (r.exit_code != 0 || !google::protobuf::util::JsonStringToMessage(r.out, &status).ok()) {
    return out;
  }
  for (const ctl::BusRunStatus& run_status : status.runs()) {
    for (const ctl::BusTaskStatus& t : run_status.tasks()) out[t.id()] = t;
  }
  return out;
}

bool Finished(const FleetHarness& h, const std::string& run) {
  CommandResult r = h.Fleetctl({"bus", "status", run, "-o", "protojson"});
  ctl::BusStatusResponse status;
  return r.exit_code == 0 && google::protobuf::util::JsonStringToMessage(r.out, &status).ok() &&
         status.runs_size() == 1 && status.runs(0).done();
}

// A worker engine: claims tasks of its capabilities, takes `work` seconds
// (sleeping in steps, so a kill lands mid-task), and completes each with
// "TASK by WORKER <- upstream". Every completion is also appended to
// completions.log (one line per task attempt that finished).
std::string Worker(const std::string& name, const std::string& caps, int replicas,
                   const std::string& work = "0") {
  return absl::StrCat(
      "  - name: ", name, "\n    replicas: ", replicas, "\n    capabilities: [", caps, "]\n",
      "    env: {WORK: '", work, "', FLEETCTL: '", FleetHarness::FleetctlPath(), "'}\n",
      "    shell: |\n", "      while true; do\n", "        for cap in $(echo '", caps,
      "' | tr ',' ' '); do\n",
      "          task=$(\"$FLEETCTL\" bus claim --capability $cap) && break\n", "        done\n",
      "        if [ -z \"$task\" ]; then sleep 0.1; continue; fi\n",
      "        id=$(echo \"$task\" | sed -n 's/.*\"id\": *\"\\([^\"]*\\)\".*/\\1/p')\n",
      "        sleep $WORK\n", "        echo \"$id\" >> completions.log\n",
      "        echo \"$id by $FLEET_ENGINE.$FLEET_INSTANCE\" | \"$FLEETCTL\" bus complete \"$id\" "
      "--result -\n",
      "        task=\n", "      done\n");
}

TEST(BusTest, ADagRunsInOrderAndAMissingCapabilityIsSkippedWithItsDependents) {
  FleetHarness h;
  h.WriteFile("fleet.yaml",
              FleetYaml(Worker("scraper", "scrape", 2) + Worker("thinker", "llm", 1)));
  h.WriteFile("goal.yaml",
              "tasks:\n  - {id: fetch, capability: scrape}\n"
              "  - {id: sum, capability: llm, needs: [fetch]}\n"
              "  - {id: render, capability: gpu, needs: [fetch]}\n"
              "  - {id: post, capability: llm, needs: [render]}\n"
              "  - {id: report, capability: llm, needs: [sum, render], trigger_rule: all_done}\n");
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  CommandResult submit = h.Fleetctl({"bus", "submit", h.dir() + "/goal.yaml", "--run", "g1"});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  EXPECT_EQ(submit.out, "g1\n");
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return Finished(h, "g1"); }, absl::Seconds(30)))
      << h.Fleetctl({"bus", "status", "g1"}).out << h.Fleetctl({"logs", "scraper", "-n", "20"}).out
      << FleetHarness::FileText(h.dir() + "/fleet.yaml");
  std::map<std::string, ctl::BusTaskStatus> tasks = Tasks(h, "g1");
  EXPECT_EQ(tasks["fetch"].state(), "succeeded");
  EXPECT_EQ(tasks["sum"].state(), "succeeded");
  EXPECT_EQ(tasks["render"].state(), "skipped");
  EXPECT_EQ(tasks["render"].reason(),
            "no healthy worker with capability gpu (no engine declares it)");
  EXPECT_EQ(tasks["post"].state(), "skipped");
  EXPECT_EQ(tasks["post"].reason(), "upstream render skipped");
  EXPECT_EQ(tasks["report"].state(), "succeeded");
  EXPECT_THAT(tasks["sum"].worker(), HasSubstr("thinker."));
  EXPECT_THAT(h.Fleetctl({"bus", "status", "g1"}).out, HasSubstr("      report"));  // The tree.
  // A bad DAG is refused with its line, and nothing starts.
  h.WriteFile("bad.yaml", "tasks:\n  - {id: a, capability: x, needs: [b]}\n");
  CommandResult bad = h.Fleetctl({"bus", "submit", h.dir() + "/bad.yaml"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("bad.yaml:2:36: needs names 'b'"));
}

TEST(BusTest, AWorkerKilledMidTaskHasItRequeuedAndDoneOnce) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(Worker("w", "llm", 2, "1.5")));
  h.WriteFile("goal.yaml", "tasks:\n  - {id: slow, capability: llm}\n");
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_EQ(h.Fleetctl({"bus", "submit", h.dir() + "/goal.yaml", "--run", "k"}).exit_code, 0);
  std::string holder;
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        holder = Tasks(h, "k")["slow"].worker();
        return !holder.empty();
      },
      absl::Seconds(10)));
  // Kill the holder's whole process group (the shell and its sleep).
  const std::string id = absl::StrCat("w/", holder.substr(holder.find('.') + 1));
  const pid_t pid = h.Instance(id).pid();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(-pid, SIGKILL), 0);
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return Finished(h, "k"); }, absl::Seconds(30)))
      << h.Fleetctl({"bus", "status", "k"}).out << h.Fleetctl({"events", "-n", "40"}).out;
  ctl::BusTaskStatus slow = Tasks(h, "k")["slow"];
  EXPECT_EQ(slow.state(), "succeeded");
  EXPECT_GE(slow.attempt(), 2u);
  EXPECT_THAT(h.Fleetctl({"events", "-n", "100"}).out, HasSubstr("task_requeued"));
  // As Prometheus sees it (after the bus's next pass).
  std::string metrics;
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        metrics = h.Fleetctl({"metrics"}).out;
        return FleetHarness::MetricSum(metrics, "fleet_bus_tasks", "state=\"succeeded\"") == 1;
      },
      absl::Seconds(10)))
      << metrics;
  EXPECT_GE(FleetHarness::MetricSum(metrics, "fleet_bus_tasks_requeued_total"), 1) << metrics;
  EXPECT_EQ(FleetHarness::MetricSum(metrics, "fleet_bus_task_latency_seconds_count"), 1) << metrics;
  // It waited for the killed attempt's requeue and the second run (1.5s).
  EXPECT_GE(FleetHarness::MetricSum(metrics, "fleet_bus_task_latency_seconds_sum"), 1.5) << metrics;
  std::ifstream log(h.dir() + "/completions.log");
  std::string line;
  int done = 0;
  while (std::getline(log, line)) done += line.find("k~slow~") == 0;
  EXPECT_EQ(done, 1) << "completed once";
}

TEST(BusTest, FleetdKilledMidRunGoesOnFromTheFiles) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(Worker("w", "llm", 1, "0.3")));
  h.WriteFile(
      "goal.yaml",
      "tasks:\n  - {id: a, capability: llm}\n  - {id: b, capability: llm, needs: [a]}\n"
      "  - {id: c, capability: llm, needs: [b]}\n  - {id: d, capability: llm, needs: [c]}\n");
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_EQ(h.Fleetctl({"bus", "submit", h.dir() + "/goal.yaml", "--run", "m"}).exit_code, 0);
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return Tasks(h, "m")["a"].state() == "succeeded"; },
                                      absl::Seconds(10)));
  ASSERT_EQ(kill(h.fleetd_pid(), SIGKILL), 0);
  ASSERT_EQ(h.WaitFleetdExit(absl::Seconds(10)), 128 + SIGKILL);
  absl::SleepFor(absl::Seconds(1));  // The worker (adopted later) finishes b meanwhile.
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return Finished(h, "m"); }, absl::Seconds(30)))
      << h.Fleetctl({"bus", "status", "m"}).out;
  for (const char* t : {"a", "b", "c", "d"}) EXPECT_EQ(Tasks(h, "m")[t].state(), "succeeded") << t;
  std::ifstream log(h.dir() + "/completions.log");
  std::map<std::string, int> done;
  std::string line;
  while (std::getline(log, line)) ++done[line.substr(0, line.rfind('~'))];
  for (const auto& [task, n] : done) EXPECT_EQ(n, 1) << task;
}

TEST(BusTest, BadResultsAreQuarantinedAndNeverAbsorbed) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml("  - name: idle\n    capabilities: [llm]\n"
                                      "    shell: 'exec sleep 1000'\n"));
  h.WriteFile("goal.yaml", "tasks:\n  - {id: a, capability: llm}\n");
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_EQ(h.Fleetctl({"bus", "submit", h.dir() + "/goal.yaml", "--run", "q"}).exit_code, 0);
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return fs::exists(h.run_dir() + "/bus/new/llm/q~a~1.json"); }, absl::Seconds(10)));
  const std::string results = h.run_dir() + "/bus/results/";
  // Whole files, renamed in as the maildir protocol says (a file written in
  // place can be read half-written).
  auto put = [&](const std::string& name, const std::string& text) {
    std::ofstream(h.dir() + "/result.tmp") << text;
    fs::rename(h.dir() + "/result.tmp", results + name);
  };
  put("q~a~1.json", "{\"run\": \"q\", \"task\": \"a\", \"attempt\": 1, \"ok\": tr");
  put("q~a~9.json", "{\"run\": \"q\", \"task\": \"a\", \"attempt\": 9, \"ok\": true}");
  put("q~..~1.json", "{}");  // A name that climbs out.
  put("q~zz~1.json", "{\"run\": \"q\", \"task\": \"zz\", \"attempt\": 1}");
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return fs::is_empty(results); }, absl::Seconds(10)))
      << h.Fleetctl({"events", "-n", "40"}).out;
  const std::string events = h.Fleetctl({"events", "-n", "100"}).out;
  EXPECT_THAT(events, HasSubstr("q~a~1.json: not a result"));
  EXPECT_THAT(events, HasSubstr("q~a~9.json: result for attempt 9"));
  EXPECT_THAT(events, HasSubstr("its name is not RUN~TASK~ATTEMPT.json"));
  EXPECT_THAT(events, HasSubstr("run q has no task 'zz'"));
  EXPECT_EQ(Tasks(h, "q")["a"].state(), "ready");  // Still waiting for a real result.
  EXPECT_FALSE(fs::is_empty(h.run_dir() + "/bus/quarantine"));
  std::string metrics;
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        metrics = h.Fleetctl({"metrics"}).out;
        return FleetHarness::MetricSum(metrics, "fleet_bus_results_quarantined_total") == 4;
      },
      absl::Seconds(10)))
      << metrics;
  // The operator gives up on it: cancel ends it, and the offer is taken back.
  EXPECT_EQ(h.Fleetctl({"bus", "cancel", "q"}).exit_code, 0);
  EXPECT_EQ(Tasks(h, "q")["a"].state(), "cancelled");
  EXPECT_TRUE(fs::is_empty(h.run_dir() + "/bus/new/llm"));
  EXPECT_EQ(h.Fleetctl({"bus", "cancel", "nope"}).exit_code, 4);
}

TEST(BusTest, AnInotifyOverflowLosesNoResult) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml("  - name: idle\n    capabilities: [llm]\n"
                                      "    shell: 'exec sleep 1000'\n"));
  h.WriteFile("goal.yaml", "tasks:\n  - {id: a, capability: llm}\n");
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_EQ(h.Fleetctl({"bus", "submit", h.dir() + "/goal.yaml", "--run", "o"}).exit_code, 0);
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return fs::exists(h.run_dir() + "/bus/new/llm/o~a~1.json"); }, absl::Seconds(10)));
  // fleetd's loop is frozen while more events than its inotify queue holds
  // (16384 by default) arrive: two per junk file, then the real answer.
  ASSERT_EQ(kill(h.fleetd_pid(), SIGSTOP), 0);
  const std::string results = h.run_dir() + "/bus/results/";
  for (int i = 0; i < 8400; ++i) std::ofstream(absl::StrCat(results, "junk-", i, ".json")) << "{}";
  CommandResult claim = h.Run({FleetHarness::FleetctlPath(), "--run-dir", h.run_dir(), "bus",
                               "claim", "--capability", "llm", "--worker", "idle.0"});
  ASSERT_EQ(claim.exit_code, 0) << claim.err;
  CommandResult done = h.Run({FleetHarness::FleetctlPath(), "--run-dir", h.run_dir(), "bus", "fail",
                              "o~a~1", "--reason", "overflowed", "--worker", "idle.0"});
  ASSERT_EQ(done.exit_code, 0) << done.err;
  ASSERT_EQ(kill(h.fleetd_pid(), SIGCONT), 0);
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return Tasks(h, "o")["a"].state() == "failed"; },
                                      absl::Seconds(60)))
      << h.Fleetctl({"bus", "status", "o"}).out;
  EXPECT_THAT(Tasks(h, "o")["a"].reason(), HasSubstr("overflowed"));
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return fs::is_empty(results); }, absl::Seconds(60)));
  EXPECT_THAT(h.FleetdLog(), HasSubstr("inotify queue overflowed"));  // It did overflow.
}

// A worker this fleetd does not run (a pod on a shared volume): a shell
// loop with FLEET_RUN_DIR pointing at the bus's run dir, as worker pod.0.
pid_t StartExternalWorker(const FleetHarness& h, const std::string& capability) {
  const std::string script =
      absl::StrCat("while :; do task=$(\"$FLEETCTL\" bus claim --capability ", capability,
                   ") || { sleep 0.1; continue; }; ",
                   "id=$(echo \"$task\" | sed -n 's/.*\"id\": *\"\\([^\"]*\\)\".*/\\1/p'); ",
                   "echo \"$id by pod\" | \"$FLEETCTL\" bus complete \"$id\" --result -; done");
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    setenv("FLEETCTL", FleetHarness::FleetctlPath().c_str(), 1);
    setenv("FLEET_RUN_DIR", h.run_dir().c_str(), 1);
    setenv("FLEET_ENGINE", "pod", 1);
    setenv("FLEET_INSTANCE", "0", 1);
    execl("/bin/sh", "sh", "-c", script.c_str(), nullptr);
    _exit(127);
  }
  return pid;
}

TEST(BusTest, AConductorWithoutWorkersOffersExternalCapabilitiesToWorkersElsewhere) {
  FleetHarness h;
  h.WriteFile("fleet.yaml",
              "name: conductor\nrun_dir: run\nbus:\n  external_capabilities: [llm]\n");
  h.WriteFile("goal.yaml",
              "tasks:\n  - {id: think, capability: llm}\n"
              "  - {id: more, capability: llm, needs: [think]}\n"
              "  - {id: draw, capability: gpu}\n");
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  // From stdin, as through `kubectl exec -i`.
  CommandResult submit = h.Run({"/bin/sh", "-c",
                                absl::StrCat("'", FleetHarness::FleetctlPath(), "' --run-dir '",
                                             h.run_dir(), "' bus submit - --run x < goal.yaml")});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  const pid_t worker = StartExternalWorker(h, "llm");
  const bool finished =
      FleetHarness::WaitUntil([&] { return Finished(h, "x"); }, absl::Seconds(30));
  kill(-worker, SIGKILL);
  waitpid(worker, nullptr, 0);
  ASSERT_TRUE(finished) << h.Fleetctl({"bus", "status", "x"}).out << h.FleetdLog();
  std::map<std::string, ctl::BusTaskStatus> tasks = Tasks(h, "x");
  EXPECT_EQ(tasks["think"].state(), "succeeded");
  EXPECT_EQ(tasks["more"].state(), "succeeded");
  EXPECT_EQ(tasks["more"].worker(), "pod.0");
  EXPECT_EQ(tasks["draw"].state(), "skipped");  // Nobody, here or elsewhere, declares gpu.
  EXPECT_THAT(h.FleetdLog(), HasSubstr("inotify does not see other hosts' writes"));
}

TEST(BusTest, OneConductorPerBusDirectoryAndTheNextTakesOverWhenItIsFree) {
  FleetHarness h;
  // Another conductor (on another host, on a shared volume) holds the bus.
  ASSERT_EQ(mkdir(h.run_dir().c_str(), 0700), 0);
  ASSERT_EQ(mkdir((h.run_dir() + "/bus").c_str(), 0700), 0);
  const int held =
      open((h.run_dir() + "/bus/conductor.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(held, 0);
  ASSERT_EQ(flock(held, LOCK_EX), 0);
  h.WriteFile("fleet.yaml", "name: second\nrun_dir: run\nbus:\n  external_capabilities: [llm]\n");
  h.WriteFile("goal.yaml", "tasks:\n  - {id: think, capability: llm}\n");
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  CommandResult refused = h.Fleetctl({"bus", "submit", h.dir() + "/goal.yaml", "--run", "y"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.err, HasSubstr("the work-bus is off"));
  EXPECT_THAT(h.Fleetctl({"events"}).out, HasSubstr("held by another conductor"));
  close(held);
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return h.Fleetctl({"bus", "submit", h.dir() + "/goal.yaml", "--run", "y"}).exit_code == 0;
      },
      absl::Seconds(15)))
      << h.FleetdLog();
  EXPECT_THAT(h.Fleetctl({"events"}).out, HasSubstr("this fleetd conducts the bus now"));
}

}  // namespace
}  // namespace fleet::testing
