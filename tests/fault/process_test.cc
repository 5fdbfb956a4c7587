// Faults of processes: a worker's pid reused by a stranger while fleetd is
// down, a setsid grandchild left by a run that died while fleetd was down,
// and 200 workers exiting in the same instant. Afterwards every engine runs
// exactly once, the stranger is untouched, and nothing is left behind.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fault/invariants.h"
#include "tests/integration/fleet_harness.h"

namespace fleet::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string Events(const FleetHarness& h) { return h.Fleetctl({"events", "-n", "500"}).out; }

void KillFleetd(FleetHarness& h) {
  ASSERT_EQ(kill(h.fleetd_pid(), SIGKILL), 0);
  ASSERT_EQ(h.WaitFleetdExit(absl::Seconds(10)), 128 + SIGKILL);
}

bool Gone(pid_t pid) { return !FleetHarness::ProcessAlive(pid); }

// Starts `sleep 1000` (no FLEET_* environment: a stranger) with exactly the
// pid `want`, by setting the kernel's last-allocated pid just below it.
// Returns its pid, or 0 when the kernel would not (not root) or another
// process took the pid first every time.
pid_t StrangerWithPid(pid_t want) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    std::string last = std::to_string(want - 1);
    bool set = write(fd, last.data(), last.size()) == static_cast<ssize_t>(last.size());
    close(fd);
    if (!set) return 0;
    pid_t pid = fork();
    if (pid == 0) {
      char* const no_env[] = {nullptr};
      execle("/bin/sleep", "sleep", "1000", nullptr, no_env);
      _exit(127);
    }
    if (pid == want) return pid;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  return 0;
}

TEST(ProcessFaultTest, AWorkersPidReusedWhileFleetdIsDownIsNeverTakenForIt) {
  FleetHarness h;
  h.WriteFile("fleet.yaml",
              FleetYaml(absl::StrCat("  - name: w\n    command: [\"", FleetHarness::ChildPath(),
                                     "\"]\n    min_uptime: 100ms\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_THAT(AwaitHealed(h, {"w/0"}, absl::Seconds(10)), IsEmpty());
  const pid_t worker = h.Instance("w/0").pid();
  KillFleetd(h);
  ASSERT_EQ(kill(worker, SIGKILL), 0);
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return Gone(worker); }, absl::Seconds(10)));
  const pid_t stranger = StrangerWithPid(worker);
  if (stranger == 0) GTEST_SKIP() << "cannot place a process at pid " << worker << " (needs root)";

  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  EXPECT_THAT(AwaitHealed(h, {"w/0"}, absl::Seconds(10)), IsEmpty());
  EXPECT_NE(h.Instance("w/0").pid(), stranger);
  EXPECT_THAT(Events(h), HasSubstr("the pid now belongs to another process"));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_FALSE(Gone(stranger)) << "fleetd signalled a process that is not its worker";
  kill(stranger, SIGKILL);
  waitpid(stranger, nullptr, 0);
}

TEST(ProcessFaultTest, ASurvivorOfARemovedEngineThatIgnoresSigtermIsKilledAfterTheGrace) {
  FleetHarness h;
  const std::string stubborn =
      absl::StrCat("  - name: stubborn\n    command: [\"", FleetHarness::ChildPath(),
                   "\", \"--ignore-sigterm\"]\n    min_uptime: 100ms\n");
  const std::string keep = "  - name: keep\n    shell: 'exec sleep 1000'\n";
  h.WriteFile("fleet.yaml", FleetYaml(stubborn + keep));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_THAT(AwaitHealed(h, {"stubborn/0", "keep/0"}, absl::Seconds(10)), IsEmpty());
  const pid_t survivor = h.Instance("stubborn/0").pid();
  KillFleetd(h);
  h.WriteFile("fleet.yaml", FleetYaml(keep));  // The operator removes it meanwhile.
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  absl::SleepFor(absl::Seconds(2));
  EXPECT_FALSE(Gone(survivor));  // SIGTERM is ignored...
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return Gone(survivor); }, absl::Seconds(15)));
  EXPECT_THAT(Events(h), HasSubstr("ignored SIGTERM"));  // ...SIGKILL is not.
  EXPECT_THAT(AwaitHealed(h, {"keep/0"}, absl::Seconds(5)), IsEmpty());
}

class LostRunTest : public ::testing::TestWithParam<bool> {
 protected:
  std::vector<std::string> Env() const {
    return GetParam() ? std::vector<std::string>{} : std::vector<std::string>{"FLEET_CGROUPS=off"};
  }
};

TEST_P(LostRunTest, ASetsidGrandchildOfARunThatDiedWhileFleetdWasDownIsEnded) {
  FleetHarness h;
  h.WriteFile("fleet.yaml",
              FleetYaml(absl::StrCat("  - name: g\n    command: [\"", FleetHarness::ChildPath(),
                                     "\", \"--setsid-grandchild\", \"", h.dir(),
                                     "/grandchild.pid\"]\n    min_uptime: 100ms\n")));
  ASSERT_TRUE(h.StartFleetd(Env()).ok()) << h.FleetdLog();
  pid_t grandchild = 0;
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return (grandchild = h.ReadPid("grandchild.pid")) > 0; }, absl::Seconds(10)));
  const pid_t worker = h.Instance("g/0").pid();
  KillFleetd(h);
  ASSERT_EQ(kill(worker, SIGKILL), 0);  // The run dies; its grandchild does not.
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return Gone(worker); }, absl::Seconds(10)));
  ASSERT_FALSE(Gone(grandchild));
  unlink((h.dir() + "/grandchild.pid").c_str());

  ASSERT_TRUE(h.StartFleetd(Env()).ok()) << h.FleetdLog();
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return Gone(grandchild); }, absl::Seconds(10)))
      << Events(h);
  EXPECT_THAT(Events(h), HasSubstr("g/0  leftovers_killed"));
  EXPECT_THAT(AwaitHealed(h, {"g/0"}, absl::Seconds(10)), IsEmpty());
  // The new run's own grandchild is left alone.
  pid_t fresh = 0;
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return (fresh = h.ReadPid("grandchild.pid")) > 0; },
                                      absl::Seconds(10)));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_FALSE(Gone(fresh));
}

INSTANTIATE_TEST_SUITE_P(CgroupsOrSubreaper, LostRunTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Cgroups" : "Subreaper"; });

TEST(ProcessFaultTest, TwoHundredWorkersExitingAtOnceAreEachRestartedOnce) {
  FleetHarness h;
  const std::string go = h.dir() + "/go";
  // Each waits for `go`, then exits 1; a copy started after `go` stays up.
  h.WriteFile("fleet.yaml",
              FleetYaml(absl::StrCat("  - name: w\n    replicas: 200\n    command: [\"",
                                     FleetHarness::ChildPath(), "\", \"--exit-when\", \"", go,
                                     "\", \"--exit-code\", \"1\"]\n    min_uptime: 100ms\n"
                                     "    backoff: {initial: 100ms}\n")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  const std::vector<std::string> ids = Ids("w", 200);
  ASSERT_THAT(AwaitHealed(h, ids, absl::Seconds(60)), IsEmpty());
  h.WriteFile("go", "");
  EXPECT_THAT(AwaitHealed(h, ids, absl::Seconds(60)), IsEmpty());
  absl::StatusOr<control::v1::GetStatusResponse> status = h.Status();
  ASSERT_TRUE(status.ok());
  int restarted_once = 0;
  for (const auto& e : status->engines()) {
    for (const auto& i : e.instances()) restarted_once += i.restarts() == 1;
  }
  EXPECT_EQ(restarted_once, 200);
  printf("200 exits at once: fleetd's worst loop lag %lld ms\n",
         static_cast<long long>(status->daemon().max_loop_lag_ms()));
}

// fleetd itself stopped (SIGSTOP, a suspended VM) while its workers go on:
// when it runs again, the gap is its own, not the workers'. Neither a chatty
// worker nor a quiet one is restarted as "log stale", and every line the
// quiet one wrote meanwhile is in its log.
TEST(ProcessFaultTest, AStalledFleetdBlamesNoWorkerAndLosesNoOutput) {
  FleetHarness h;
  h.WriteFile("fleet.yaml",
              FleetYaml("  - name: chatty\n    shell: 'while true; do echo tick; sleep 0.1; done'\n"
                        "    health: {log_max_age: 3s, period: 500ms, starved_cpu_pressure: 100}\n"
                        "  - name: quiet\n"
                        "    shell: 'i=0; while true; do i=$((i+1)); echo q$i; sleep 1; done'\n"
                        "    health: {log_max_age: 3s, period: 500ms, starved_cpu_pressure: 100}\n"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_THAT(AwaitHealed(h, {"chatty/0", "quiet/0"}, absl::Seconds(10)), IsEmpty());
  absl::SleepFor(absl::Seconds(1));
  ASSERT_EQ(kill(h.fleetd_pid(), SIGSTOP), 0);
  absl::SleepFor(absl::Seconds(8));
  ASSERT_EQ(kill(h.fleetd_pid(), SIGCONT), 0);
  absl::SleepFor(absl::Seconds(2));  // Several health periods after the gap.

  const std::string events = Events(h);
  EXPECT_THAT(events, HasSubstr("stalled"));
  EXPECT_EQ(h.Instance("chatty/0").restarts(), 0u) << events;
  EXPECT_EQ(h.Instance("quiet/0").restarts(), 0u) << events;
  // q1, q2, ... with no number missing.
  std::istringstream log(FleetHarness::CapturedText(h.run_dir() + "/logs/quiet.0.log"));
  std::string line;
  int expected = 1;
  while (std::getline(log, line)) {
    ASSERT_EQ(line, absl::StrCat("q", expected)) << "a line is missing";
    ++expected;
  }
  EXPECT_GE(expected, 10);
}

// A memory cgroup this test may limit (cgroup v1's memory hierarchy, or a
// cgroup v2 directory with the memory controller), made under the
// hierarchy's root; "" where there is none.
std::string LimitedMemoryCgroup(int64_t limit_bytes) {
  const std::string name = absl::StrCat("/fleet-oom-test-", getpid());
  for (const auto& [root, limit_file] :
       std::vector<std::pair<std::string, std::string>>{
           {"/sys/fs/cgroup/memory", "memory.limit_in_bytes"},
           {"/sys/fs/cgroup", "memory.max"},
           {"/sys/fs/cgroup/unified", "memory.max"}}) {
    const std::string dir = root + name;
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) continue;
    std::ofstream limit(dir + "/" + limit_file);
    limit << limit_bytes;
    limit.close();
    if (limit.good()) return dir;
    rmdir(dir.c_str());
  }
  return "";
}

TEST(ProcessFaultTest, AnOomKillIsCalledOutOfMemoryNotJustSigkill) {
  const std::string cgroup = LimitedMemoryCgroup(int64_t{160} << 20);
  if (cgroup.empty()) GTEST_SKIP() << "no memory cgroup can be limited here";
  FleetHarness h;
  // fleetd (and so its workers) in the limited cgroup; the worker grows a
  // shell variable to 600 MB, so the OOM killer picks it.
  h.set_fleetd_wrapper(
      {"sh", "-c", absl::StrCat("echo $$ > ", cgroup, "/cgroup.procs && exec \"$@\""), "sh"});
  h.WriteFile("hog.sh", "x=$(head -c 600000000 /dev/zero | tr '\\0' a)\nexec sleep 1000\n");
  h.WriteFile("fleet.yaml", FleetYaml("  - name: hog\n    command: [sh, hog.sh]\n"
                                      "    backoff: {initial: 30s, max: 30s}\n"
                                      "  - name: calm\n    shell: 'exec sleep 1000'\n"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  std::string events;
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        events = Events(h);
        return events.find("out of memory") != std::string::npos;
      },
      absl::Seconds(30)))
      << events << h.FleetdLog();
  EXPECT_THAT(events, HasSubstr("killed by SIGKILL (out of memory"));
  EXPECT_EQ(h.Instance("calm/0").restarts(), 0u) << events;
  EXPECT_THAT(h.Instance("hog/0").reason(), HasSubstr("out of memory"));
  EXPECT_TRUE(h.Instance("hog/0").last_exit().oom_killed());
  CommandResult down = h.Fleetctl({"shutdown"});
  EXPECT_EQ(down.exit_code, 0) << down.err;
  h.WaitFleetdExit(absl::Seconds(30));
  rmdir(cgroup.c_str());
}

}  // namespace
}  // namespace fleet::testing
