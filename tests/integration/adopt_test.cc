// fleetd's own death: SIGKILL fleetd, and the workload keeps running; the next
// fleetd takes every survivor back, restarts only what died meanwhile, never
// runs two copies and never takes a reused pid for a worker.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "core/os/files.h"
#include "core/os/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fault/invariants.h"
#include "tests/integration/fleet_harness.h"

namespace fleet::testing {
namespace {

using ::testing::HasSubstr;
namespace ctl = ::fleet::control::v1;

// Entries of dir whose name starts with prefix.
int Entries(const std::string& dir, const std::string& prefix = "") {
  int n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().filename().string().rfind(prefix, 0) == 0) ++n;
  }
  return n;
}

std::string ChildEngine(const std::string& name, int replicas, const std::string& extra = "") {
  return absl::StrCat("  - name: ", name, "\n    command: [\"", FleetHarness::ChildPath(),
                      "\"]\n    replicas: ", replicas, "\n    min_uptime: 100ms\n", extra);
}

// Prints a line whenever the file `go` appears (and removes it).
std::string TalkerEngine() {
  return "  - name: talk\n    command: [sh, -c, 'echo started; while :; do if [ -e go ]; then "
         "rm go; echo written-while-fleetd-was-down; fi; sleep 0.05; done']\n";
}

void KillFleetd(FleetHarness& h) {
  ASSERT_EQ(kill(h.fleetd_pid(), SIGKILL), 0);
  ASSERT_EQ(h.WaitFleetdExit(absl::Seconds(10)), 128 + SIGKILL);
}

TEST(AdoptTest, SurvivorsAreTakenBackAndOnlyTheDeadAreRestarted) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(ChildEngine("w", 3) + TalkerEngine()));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  const std::vector<std::string> ids = {"w/0", "w/1", "w/2", "talk/0"};
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return AllRunning(h, ids); }, absl::Seconds(10)));
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return h.Fleetctl({"logs", "talk"}).out.find("\nstarted\n") != std::string::npos;
      },
      absl::Seconds(10)));
  std::map<std::string, pid_t> pids;
  for (const std::string& id : ids) pids[id] = h.Instance(id).pid();

  KillFleetd(h);
  // The workload does not notice: every instance still runs.
  for (const auto& [id, pid] : pids) EXPECT_TRUE(FleetHarness::ProcessAlive(pid)) << id;
  // While fleetd is down, one worker dies and another writes output.
  ASSERT_EQ(kill(pids["w/1"], SIGKILL), 0);
  h.WriteFile("go", "");
  ASSERT_TRUE(
      FleetHarness::WaitUntil([&] { return !os::Exists(h.dir() + "/go"); }, absl::Seconds(10)));

  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return AllRunning(h, ids); }, absl::Seconds(10)))
      << h.FleetdLog();
  // Survivors keep their pid and were not restarted; the dead one was.
  for (const std::string& id : {"w/0", "w/2", "talk/0"}) {
    ctl::InstanceStatus inst = h.Instance(id);
    EXPECT_EQ(inst.pid(), pids[id]) << id;
    EXPECT_EQ(inst.restarts(), 0u) << id;
  }
  EXPECT_NE(h.Instance("w/1").pid(), pids["w/1"]);
  EXPECT_TRUE(FleetHarness::ProcessAlive(h.Instance("w/1").pid()));
  // Output written while fleetd was down was kept in the FIFO and captured.
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return h.Fleetctl({"logs", "talk"}).out.find("written-while-fleetd-was-down") !=
               std::string::npos;
      },
      absl::Seconds(10)));
  // Output keeps flowing from an adopted instance.
  h.WriteFile("go", "");
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        std::string out = h.Fleetctl({"logs", "talk"}).out;
        return out.find("written-while-fleetd-was-down") !=
               out.rfind("written-while-fleetd-was-down");
      },
      absl::Seconds(10)));
  std::string events = h.Fleetctl({"events", "-n", "100"}).out;
  EXPECT_THAT(events, HasSubstr(absl::StrCat("w/0  adopted  pid ", pids["w/0"])));
  EXPECT_THAT(events, HasSubstr(absl::StrCat("w/1  lost  pid ", pids["w/1"], " ended while")));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(CopiesOf(h.run_dir(), "w", i).size(), 1u) << "w/" << i;
  EXPECT_EQ(CopiesOf(h.run_dir(), "talk", 0).size(), 1u);

  // An adopted instance is not our child; its death is still seen (pidfd)
  // and it is restarted.
  ASSERT_EQ(kill(pids["w/0"], SIGKILL), 0);
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        ctl::InstanceStatus now = h.Instance("w/0");
        return now.restarts() == 1 && now.pid() != pids["w/0"] &&
               now.state() == ctl::INSTANCE_STATE_RUNNING;
      },
      absl::Seconds(10)))
      << h.FleetdLog();
  // And stopping an adopted instance stops it.
  EXPECT_EQ(h.Fleetctl({"stop", "talk"}).exit_code, 0);
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return !FleetHarness::ProcessAlive(pids["talk/0"]); },
                                      absl::Seconds(10)));
}

TEST(AdoptTest, ARecordWhosePidWasReusedIsNotTakenForTheWorker) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(ChildEngine("w", 1)));
  // A bystander holds the pid the record names, but started at another time.
  os::SpawnSpec bystander;
  bystander.argv = {"/bin/sleep", "1000"};
  absl::StatusOr<pid_t> other = os::Spawn(bystander);
  ASSERT_TRUE(other.ok());
  std::optional<uint64_t> start = os::ProcessStartTime(*other);
  ASSERT_TRUE(start.has_value());
  h.WriteFile("run/instances/w.0", absl::StrCat("w 0 ", *other, " ", *start + 1, " 0 ",
                                                absl::ToUnixMillis(absl::Now()), "\n"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return AllRunning(h, {"w/0"}); }, absl::Seconds(10)));
  EXPECT_NE(h.Instance("w/0").pid(), *other);
  EXPECT_TRUE(FleetHarness::ProcessAlive(*other));  // Never signalled.
  EXPECT_THAT(h.Fleetctl({"events"}).out, HasSubstr("pid now belongs to another process"));
  kill(*other, SIGKILL);
  os::WaitProcess(*other);
}

TEST(AdoptTest, ChangedAndRemovedEnginesAreHandledOnTheWayBack) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(ChildEngine("keep", 1) + ChildEngine("change", 1) +
                                      ChildEngine("gone", 1)));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  const std::vector<std::string> ids = {"keep/0", "change/0", "gone/0"};
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return AllRunning(h, ids); }, absl::Seconds(10)));
  std::map<std::string, pid_t> pids;
  for (const std::string& id : ids) pids[id] = h.Instance(id).pid();
  KillFleetd(h);

  // The operator edits the config while fleetd is down.
  h.WriteFile("fleet.yaml", FleetYaml(ChildEngine("keep", 1) +
                                      ChildEngine("change", 1, "    env: {MODE: new}\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        ctl::InstanceStatus c = h.Instance("change/0");
        return AllRunning(h, {"keep/0", "change/0"}) && c.pid() != pids["change/0"];
      },
      absl::Seconds(15)))
      << h.FleetdLog();
  EXPECT_EQ(h.Instance("keep/0").pid(), pids["keep/0"]);
  // The changed engine runs its new definition, once.
  EXPECT_FALSE(FleetHarness::ProcessAlive(pids["change/0"]));
  EXPECT_THAT(
      FleetHarness::FileText(absl::StrCat("/proc/", h.Instance("change/0").pid(), "/environ")),
      HasSubstr("MODE=new"));
  EXPECT_EQ(CopiesOf(h.run_dir(), "change", 0).size(), 1u);
  // The removed engine's survivor is stopped, not left running unsupervised.
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return !FleetHarness::ProcessAlive(pids["gone/0"]); },
                                      absl::Seconds(10)));
  std::string events = h.Fleetctl({"events", "-n", "100"}).out;
  EXPECT_THAT(events, HasSubstr("gone/0  orphan_stopped"));
  EXPECT_THAT(events, HasSubstr("its definition changed while fleetd was down"));
  // An adopted instance's exit is noticed at once (well within the 10s stop
  // grace that would otherwise end the wait).
  absl::Time before = absl::Now();
  EXPECT_EQ(h.Fleetctl({"shutdown"}).exit_code, 0);
  EXPECT_EQ(h.WaitFleetdExit(absl::Seconds(20)), 0);
  EXPECT_LT(absl::Now() - before, absl::Seconds(8));
}

TEST(AdoptTest, ACleanShutdownLeavesNothingToAdopt) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(ChildEngine("w", 2)));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return AllRunning(h, {"w/0", "w/1"});
      },
      absl::Seconds(10)));
  EXPECT_EQ(h.Fleetctl({"shutdown"}).exit_code, 0);
  EXPECT_EQ(h.WaitFleetdExit(absl::Seconds(20)), 0);
  // No record, no FIFO, and the pipe keeper has gone (its lock is free).
  EXPECT_EQ(Entries(h.run_dir() + "/instances"), 0);
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        int fd = ::open((h.run_dir() + "/pipes/keeper.lock").c_str(), O_RDWR | O_CLOEXEC);
        bool free = fd < 0 || ::flock(fd, LOCK_EX | LOCK_NB) == 0;
        if (fd >= 0) ::close(fd);
        return free;
      },
      absl::Seconds(5)));
  EXPECT_EQ(Entries(h.run_dir() + "/pipes", "w."), 0);
  EXPECT_EQ(CopiesOf(h.run_dir(), "w", 0).size() + CopiesOf(h.run_dir(), "w", 1).size(), 0u);
}

}  // namespace
}  // namespace fleet::testing
