// The control plane: reload, refusals, permissions, the run-dir lock,
// status (fleetctl's own commands are in fleetctl_test).
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "core/os/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/fleet_harness.h"

namespace fleet::testing {
namespace {

using ::testing::ContainsRegex;
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
namespace ctl = ::fleet::control::v1;

// Clients that connect and hold their connections (500 of them, idle) must
// not take the descriptors supervision needs: past a reserve under fleetd's
// RLIMIT_NOFILE they are turned away, a killed worker is still restarted,
// the refusals are logged once with a count, and status works again once
// they are gone.
TEST(ControlTest, IdleConnectionsCannotStarveSupervisionOfDescriptors) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(ChildDaemon("a")));
  h.set_fleetd_wrapper({"prlimit", "--nofile=256:256", "--"});
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(
      FleetHarness::WaitUntil([&] { return h.Instance("a/0").pid() > 0; }, absl::Seconds(10)));
  const pid_t before = h.Instance("a/0").pid();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string socket = h.run_dir() + "/ctl/fleetd.sock";
  std::memcpy(addr.sun_path, socket.c_str(), socket.size() + 1);
  std::vector<int> idle;
  for (int i = 0; i < 500; ++i) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd);
      continue;
    }
    idle.push_back(fd);
  }
  ASSERT_GT(idle.size(), 250u);
  absl::SleepFor(absl::Milliseconds(500));
  ASSERT_EQ(kill(before, SIGKILL), 0);
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        std::string pid = FleetHarness::FileText(h.run_dir() + "/instances/a.0");
        return !pid.empty() && pid.find(absl::StrCat(" ", before, " ")) == std::string::npos;
      },
      absl::Seconds(10)))
      << h.FleetdLog();
  EXPECT_THAT(h.FleetdLog(), HasSubstr("connections refused since the last warning"));
  for (int fd : idle) ::close(fd);
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return h.Status().ok(); }, absl::Seconds(10)));
  EXPECT_NE(h.Instance("a/0").pid(), before);
}

// A status of hundreds of instances is built on the loop a slice at a time
// (supervision goes on between slices): every row is there once, in order,
// even while a reload adds and removes instances between slices.
TEST(ControlTest, AStatusBuiltInSlicesShowsEveryInstanceOnceEvenAcrossAReload) {
  FleetHarness h;
  auto sleepers = [](const std::string& name, int replicas) {
    return absl::StrCat("  - name: ", name, "\n    command: [\"sleep\", \"100000\"]\n",
                        "    replicas: ", replicas, "\n");
  };
  h.WriteFile("fleet.yaml", FleetYaml(sleepers("a", 300) + sleepers("b", 1) + sleepers("c", 300)));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  // Rows of an engine: ids strictly ascending by index, none twice.
  auto check = [](const ctl::GetStatusResponse& s) {
    std::vector<std::string> names;
    uint32_t rows = 0;
    for (const ctl::EngineStatus& e : s.engines()) {
      names.push_back(e.name());
      int last = -1;
      for (const ctl::InstanceStatus& i : e.instances()) {
        EXPECT_GT(static_cast<int>(i.index()), last) << i.id() << " out of order or twice";
        last = static_cast<int>(i.index());
        EXPECT_EQ(i.id(), absl::StrCat(e.name(), "/", i.index()));
        ++rows;
      }
    }
    EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
    EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
    EXPECT_EQ(s.daemon().instances(), rows);
    return rows;
  };
  uint32_t running = 0;
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        absl::StatusOr<ctl::GetStatusResponse> s = h.Status();
        if (!s.ok()) return false;
        running = 0;
        for (const ctl::EngineStatus& e : s->engines()) {
          for (const ctl::InstanceStatus& i : e.instances()) {
            running += i.state() == ctl::INSTANCE_STATE_RUNNING;
          }
        }
        return check(*s) == 601 && running == 601;
      },
      absl::Seconds(60)))
      << running << " of 601 running; " << h.FleetdLog();

  h.WriteFile("fleet.yaml", FleetYaml(sleepers("a", 100) + sleepers("c", 500)));
  pid_t reload = fork();
  if (reload == 0) {
    usleep(20000);
    _exit(h.Fleetctl({"reload"}).exit_code);
  }
  for (int i = 0; i < 15; ++i) {
    absl::StatusOr<ctl::GetStatusResponse> s = h.Status();
    ASSERT_TRUE(s.ok()) << s.status();
    check(*s);
  }
  int status = 0;
  ASSERT_EQ(waitpid(reload, &status, 0), reload);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        absl::StatusOr<ctl::GetStatusResponse> s = h.Status();
        return s.ok() && check(*s) == 600 && s->engines_size() == 2;
      },
      absl::Seconds(60)));
}

TEST(ControlTest, ReloadAppliesOnlyTheDiff) {
  FleetHarness h;
  h.WriteFile("fleet.yaml",
              FleetYaml(ChildDaemon("keep") + ChildDaemon("change", "    env: {V: '1'}\n") +
                        ChildDaemon("drop") + ChildDaemon("scale")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return AllRunning(h, {"keep/0", "change/0", "drop/0", "scale/0"});
      },
      absl::Seconds(10)));
  pid_t keep = h.Instance("keep/0").pid();
  pid_t change = h.Instance("change/0").pid();
  pid_t drop = h.Instance("drop/0").pid();
  pid_t scale = h.Instance("scale/0").pid();
  h.WriteFile("fleet.yaml",
              FleetYaml(ChildDaemon("keep") + ChildDaemon("change", "    env: {V: '2'}\n") +
                        ChildDaemon("scale", "    replicas: 2\n") + ChildDaemon("add")));
  CommandResult reload = h.Fleetctl({"reload"});
  ASSERT_EQ(reload.exit_code, 0) << reload.err;
  EXPECT_THAT(reload.out, HasSubstr("added      add"));
  EXPECT_THAT(reload.out, HasSubstr("removed    drop"));
  EXPECT_THAT(reload.out, HasSubstr("changed    change\n"));
  EXPECT_THAT(reload.out, HasSubstr("changed    scale (replicas 1 -> 2)"));
  EXPECT_THAT(reload.out, HasSubstr("unchanged  1 engines"));
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return AllRunning(h, {"keep/0", "change/0", "scale/0", "scale/1", "add/0"}) &&
               h.Instance("change/0").pid() != change;
      },
      absl::Seconds(10)))
      << h.FleetdLog();
  EXPECT_EQ(h.Instance("keep/0").pid(), keep);    // Untouched.
  EXPECT_EQ(h.Instance("scale/0").pid(), scale);  // Scaling does not restart the others.
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return !FleetHarness::ProcessAlive(drop); },
                                      absl::Seconds(10)));
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return h.Instance("drop/0").id().empty(); },
                                      absl::Seconds(10)));
}

TEST(ControlTest, BadConfigIsRefusedWithItsPositionAndChangesNothing) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", "name: it\nrun_dir: run\nengines:\n  - name: a\n    comand: [x]\n");
  pid_t refused = h.SpawnFleetd("refused.log");
  int status = 0;
  ASSERT_EQ(waitpid(refused, &status, 0), refused);
  EXPECT_EQ(WEXITSTATUS(status), 78);
  EXPECT_THAT(*os::ReadFile(h.dir() + "/refused.log"),
              HasSubstr("fleet.yaml:5:5: unknown key 'comand' in Engine; did you mean 'command'?"));

  h.WriteFile("fleet.yaml", FleetYaml(ChildDaemon("a")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return AllRunning(h, {"a/0"}); }, absl::Seconds(10)));
  pid_t a = h.Instance("a/0").pid();
  h.WriteFile("fleet.yaml", FleetYaml(ChildDaemon("a", "    replicas: lots\n")));
  CommandResult reload = h.Fleetctl({"reload"});
  EXPECT_EQ(reload.exit_code, 1);
  EXPECT_THAT(reload.err, HasSubstr("the running config stays"));
  EXPECT_THAT(reload.err, HasSubstr("fleet.yaml:7:15: 'lots' is not valid for 'replicas'"));
  EXPECT_EQ(h.Instance("a/0").pid(), a);

  // Moving the run directory takes a restart: refused, with the reason.
  h.WriteFile("fleet.yaml",
              absl::StrCat("name: it\nrun_dir: elsewhere\nengines:\n", ChildDaemon("a")));
  CommandResult moved = h.Fleetctl({"reload"});
  EXPECT_EQ(moved.exit_code, 1);
  EXPECT_THAT(moved.err, HasSubstr("run_dir changed from"));
  EXPECT_THAT(moved.err, HasSubstr("takes a fleetd restart"));
  EXPECT_EQ(h.Instance("a/0").pid(), a);

  h.WriteFile("fleet.yaml", FleetYaml(ChildDaemon("a", "    replicas: lots\n")));
  CommandResult validate = h.Fleetctl({"validate", h.dir() + "/fleet.yaml"});
  EXPECT_EQ(validate.exit_code, 2);
  EXPECT_THAT(validate.err, HasSubstr("fleet.yaml:7:15"));
}

TEST(ControlTest, SighupReloads) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(ChildDaemon("a")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  h.WriteFile("fleet.yaml", FleetYaml(ChildDaemon("a") + ChildDaemon("b")));
  kill(h.fleetd_pid(), SIGHUP);
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("b/0").state() == ctl::INSTANCE_STATE_RUNNING; }, absl::Seconds(10)))
      << h.FleetdLog();
  EXPECT_THAT(h.FleetdLog(), HasSubstr("reloaded: 1 added, 0 removed, 0 changed, 1 unchanged"));
}

// A fleetd killed while it started a run leaves a copy of its lock with
// that child until the child execs. The fleetd restarted at once waits that
// out (the pid file names a process that is gone) instead of refusing.
TEST(ControlTest, ALockLeftWithADeadFleetdsChildIsWaitedOutNotRefused) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(ChildDaemon("a")));
  fs::create_directories(h.run_dir() + "/ctl");
  // The pid file of a fleetd that is gone (no process started at time 1).
  h.WriteFile("run/fleetd.pid", "999999 1\n");
  pid_t holder = fork();
  if (holder == 0) {
    int fd = open((h.run_dir() + "/ctl/fleetd.lock").c_str(), O_RDWR | O_CREAT, 0600);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) _exit(1);
    usleep(800 * 1000);
    _exit(0);
  }
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        int fd = open((h.run_dir() + "/ctl/fleetd.lock").c_str(), O_RDWR);
        const bool held = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0;
        if (fd >= 0) close(fd);
        return held;
      },
      absl::Seconds(5)));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return AllRunning(h, {"a/0"}); }, absl::Seconds(10)))
      << h.FleetdLog();
  int status = 0;
  ASSERT_EQ(waitpid(holder, &status, 0), holder);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(ControlTest, SecondFleetdOnTheSameRunDirRefuses) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(ChildDaemon("a")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  pid_t second = h.SpawnFleetd("second.log");
  int status = 0;
  ASSERT_EQ(waitpid(second, &status, 0), second);
  EXPECT_EQ(WEXITSTATUS(status), 3);
  EXPECT_THAT(*os::ReadFile(h.dir() + "/second.log"),
              HasSubstr(absl::StrCat("another fleetd (pid ", h.fleetd_pid(), ") is running on")));
  // The first is untouched and still reachable.
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return AllRunning(h, {"a/0"}); }, absl::Seconds(10)));
  EXPECT_EQ(h.Fleetctl({"status"}).exit_code, 0);
}

TEST(ControlTest, OnlyTheOwnerAndRootMayControlTheFleet) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run a client as another uid";
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(ChildDaemon("a")));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  // A copy of fleetctl that uid 65534 can execute.
  std::string fleetctl = h.dir() + "/fleetctl";
  ASSERT_TRUE(
      os::WriteFileAtomic(fleetctl, *os::ReadFile(FleetHarness::FleetctlPath()), 0755).ok());
  std::vector<std::string> as_nobody = {"setpriv",        "--reuid=65534", "--regid=65534",
                                        "--clear-groups", fleetctl,        "--run-dir",
                                        h.run_dir(),      "status"};
  // The 0700 run and control directories keep others out...
  CommandResult denied = h.Run(as_nobody);
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_THAT(denied.err, HasSubstr("permission denied"));
  // ...and if it is opened up by mistake, fleetd still checks the peer's uid.
  chmod(h.run_dir().c_str(), 0755);
  chmod((h.run_dir() + "/ctl").c_str(), 0755);
  chmod((h.run_dir() + "/ctl/fleetd.sock").c_str(), 0777);
  CommandResult refused = h.Run(as_nobody);
  EXPECT_EQ(refused.exit_code, 5) << refused.out << refused.err;
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.FleetdLog().find("refused uid 65534") != std::string::npos; },
      absl::Seconds(5)))
      << h.FleetdLog();
  CommandResult root = h.Fleetctl({"status"});  // Root is served.
  EXPECT_NE(root.exit_code, 5) << root.err;
  EXPECT_THAT(root.out, HasSubstr("fleet it: fleetd pid"));
}

// status shows what each instance uses, and only what TARGETs name.
TEST(ControlTest, StatusShowsCpuAndMemoryAndFiltersByTarget) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml("  - name: busy\n    shell: 'while :; do :; done'\n"
                                      "  - name: idle\n    shell: 'exec sleep 1000'\n"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return AllRunning(h, {"busy/0", "idle/0"});
      },
      absl::Seconds(10)));
  (void)h.Status();  // The first reading covers the whole uptime; this one the next second.
  absl::SleepFor(absl::Seconds(1));
  const ctl::InstanceStatus busy = h.Instance("busy/0");
  const ctl::InstanceStatus idle = h.Instance("idle/0");
  EXPECT_GT(busy.cpu_percent(), 30);
  EXPECT_LT(idle.cpu_percent(), 5);
  EXPECT_GT(busy.rss_bytes(), 100u * 1024);
  EXPECT_GT(idle.rss_bytes(), 100u * 1024);
  CommandResult only = h.Fleetctl({"status", "idle"});
  EXPECT_EQ(only.exit_code, 0) << only.err;
  EXPECT_THAT(only.out, HasSubstr("idle/0"));
  EXPECT_THAT(only.out, Not(HasSubstr("busy/0")));
  EXPECT_EQ(h.Fleetctl({"status", "nope"}).exit_code, 4);
  // top, not on a terminal: one frame, the busiest first.
  CommandResult top = h.Fleetctl({"top"});
  EXPECT_EQ(top.exit_code, 0) << top.err;
  EXPECT_LT(top.out.find("busy/0"), top.out.find("idle/0")) << top.out;
}

}  // namespace
}  // namespace fleet::testing
