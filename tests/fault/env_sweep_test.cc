// The N-th-failure sweep (LevelDB's fault-injection Env, over a whole
// fleetd): one scenario (start a fleet, a cron engine's runs recorded, a
// work-bus DAG run by a worker, an instance restarted, shut down, start
// again) run with the N-th file
// operation of one kind failing with EIO, for N sampled across every such
// operation of the scenario, kind by kind. Every time: fleetd does not
// crash (it shuts down cleanly, or refuses to start saying what failed);
// the next fleetd (without faults) reads everything the faulty one left
// (no record or history it cannot parse) and still lists every run the
// faulty one had acknowledged, and every bus task it had said succeeded.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/integration/fleet_harness.h"

namespace fleet::testing {
namespace {

namespace ctl = ::fleet::control::v1;

std::string Fleet() {
  return absl::StrCat(
      "name: sweep\nrun_dir: run\nengines:\n  - name: w\n    command: [\"",
      FleetHarness::ChildPath(),
      "\"]\n    min_uptime: 100ms\n  - name: c\n    type: cron\n"
      "    schedule: '@every 1s'\n    shell: 'echo tick'\n"
      // A bus worker: claims a task of capability x, completes it at once.
      "  - name: b\n    capabilities: [x]\n    env: {FLEETCTL: '",
      FleetHarness::FleetctlPath(),
      "'}\n    shell: |\n      while true; do\n"
      "        task=$(\"$FLEETCTL\" bus claim --capability x) || { sleep 0.1; continue; }\n"
      "        id=$(echo \"$task\" | sed -n 's/.*\"id\": *\"\\([^\"]*\\)\".*/\\1/p')\n"
      "        echo done | \"$FLEETCTL\" bus complete \"$id\" --result -\n"
      "      done\n");
}

// The tasks of bus run r1 fleetd says succeeded.
std::set<std::string> Succeeded(const FleetHarness& h) {
  std::set<std::string> out;
  ctl::BusStatusResponse status;
  CommandResult r = h.Fleetctl({"bus", "status", "r1", "-o", "protojson"});
  if (r.exit_code != 0 || !google::protobuf::util::JsonStringToMessage(r.out, &status).ok()) {
    return out;
  }
  for (const ctl::BusRunStatus& run : status.runs()) {
    for (const ctl::BusTaskStatus& t : run.tasks()) {
      if (t.state() == "succeeded") out.insert(t.id());
    }
  }
  return out;
}

int Runs(const FleetHarness& h) {
  ctl::ListRunsResponse runs;
  CommandResult r = h.Fleetctl({"runs", "c", "-n", "200", "-o", "protojson"});
  if (r.exit_code != 0) return -1;
  if (!google::protobuf::util::JsonStringToMessage(r.out, &runs).ok()) return -1;
  int n = 0;
  for (const ctl::RunRecord& run : runs.runs()) n += run.verdict() == "succeeded";
  return n;
}

struct Outcome {
  std::map<std::string, uint64_t> counts;  // By operation kind, and "fired".
  std::string problem;                     // "" when every invariant held.
};

// One run of the scenario with fault ("" or "OP:N").
Outcome RunScenario(const std::string& fault) {
  Outcome out;
  FleetHarness h;
  h.WriteFile("fleet.yaml", Fleet());
  h.set_fleetd_binary(FleetHarness::RunfilePath("tests/fault/fleetd_with_faults"));
  std::vector<std::string> env = {absl::StrCat("FLEET_FAULT_COUNTS=", h.dir(), "/counts")};
  if (!fault.empty()) env.push_back(absl::StrCat("FLEET_FAULT=", fault));
  h.WriteFile("dag.yaml", "tasks:\n  - {id: a, capability: x}\n  - {id: z, capability: x, needs: [a]}\n");
  int acknowledged = 0;
  std::set<std::string> tasks_done;
  if (h.StartFleetd(env).ok()) {
    h.Fleetctl({"bus", "submit", h.dir() + "/dag.yaml", "--run", "r1"});
    FleetHarness::WaitUntil([&] { return Runs(h) >= 2 && Succeeded(h).size() == 2; },
                            absl::Seconds(8));
    h.Fleetctl({"restart", "w"});
    acknowledged = std::max(0, Runs(h));
    tasks_done = Succeeded(h);
    h.Fleetctl({"shutdown"});
  }
  const int code = h.WaitFleetdExit(absl::Seconds(30));
  const std::string log = h.FleetdLog();
  for (absl::string_view line : absl::StrSplit(FleetHarness::FileText(h.dir() + "/counts"), '\n')) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, ' ');
    uint64_t n = 0;
    if (absl::SimpleAtoi(kv.second, &n)) out.counts[kv.first] = n;
  }
  if (code < 0 || code >= 128) {
    out.problem = absl::StrCat("fleetd died (exit ", code, "):\n", log);
    return out;
  }
  if (code != 0 && log.find("Input/output error") == std::string::npos) {
    out.problem = absl::StrCat("fleetd exited ", code, " without saying what failed:\n", log);
    return out;
  }
  // The next fleetd, without faults, on what this one left.
  h.set_fleetd_binary("");
  absl::Status again = h.StartFleetd();
  if (!again.ok()) {
    out.problem = absl::StrCat("a clean fleetd did not start after it:\n", again.message());
    return out;
  }
  const std::string events = h.Fleetctl({"events", "-n", "500"}).out;
  const int kept = Runs(h);
  std::set<std::string> tasks_kept;
  // The bus is read back on its own thread: give it a moment.
  FleetHarness::WaitUntil(
      [&] {
        tasks_kept = Succeeded(h);
        return std::includes(tasks_kept.begin(), tasks_kept.end(), tasks_done.begin(),
                             tasks_done.end());
      },
      absl::Seconds(5));
  h.Fleetctl({"shutdown"});
  h.WaitFleetdExit(absl::Seconds(30));
  if (events.find("record_invalid") != std::string::npos ||
      events.find("history_invalid") != std::string::npos) {
    out.problem = absl::StrCat("the next fleetd found files it cannot read:\n", events);
  } else if (!std::includes(tasks_kept.begin(), tasks_kept.end(), tasks_done.begin(),
                            tasks_done.end())) {
    out.problem = absl::StrCat("bus tasks ", absl::StrJoin(tasks_done, ","),
                               " had succeeded; the next fleetd says only ",
                               absl::StrJoin(tasks_kept, ","), " did:\n", events);
  } else if (kept < acknowledged) {
    out.problem = absl::StrCat(acknowledged, " runs were acknowledged, the next fleetd lists ",
                               kept, ":\n", events);
  }
  return out;
}

// 1..count: every one up to 6 (start-up, where most kinds happen once),
// then a spread: at most about 12 per kind, so the sweep stays within
// minutes (under ASan too).
std::vector<uint64_t> Sample(uint64_t count) {
  std::vector<uint64_t> out;
  for (uint64_t n = 1; n <= count; n = n < 6 ? n + 1 : n + (count + 5) / 6) out.push_back(n);
  if (!out.empty() && out.back() != count) out.push_back(count);
  return out;
}

TEST(EnvSweepTest, EveryFailingOperationLeavesAFleetTheNextFleetdCanRead) {
  const Outcome clean = RunScenario("");
  ASSERT_EQ(clean.problem, "");
  ASSERT_GT(clean.counts.at("write"), 0u) << "the scenario wrote nothing through the Env";
  std::string counts;
  for (const auto& [op, n] : clean.counts) absl::StrAppend(&counts, op, "=", n, " ");
  std::cout << "operations in a clean run: " << counts << std::endl;
  int runs = 0, fired = 0;
  for (const char* op :
       {"open", "write", "fsync", "rename", "unlink", "mkdir", "read", "spawn", "signal"}) {
    for (uint64_t nth : Sample(clean.counts.at(op))) {
      const std::string fault = absl::StrCat(op, ":", nth);
      const Outcome o = RunScenario(fault);
      ++runs;
      fired += o.counts.count("fired") && o.counts.at("fired") == 1;
      EXPECT_EQ(o.problem, "") << "with the " << nth << "th " << op << " failing";
    }
  }
  std::cout << runs << " faulty runs, " << fired << " with the fault hit" << std::endl;
  EXPECT_GT(fired, runs / 2);
}

}  // namespace
}  // namespace fleet::testing
