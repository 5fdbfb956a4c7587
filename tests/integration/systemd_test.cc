// fleetd under systemd: READY=1 on its notify socket, the watchdog pinged
// from the loop (and not when the loop is stopped), and the unit `fleetctl
// install systemd` writes (never over an operator's edit).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/os/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/fleet_harness.h"

namespace fleet::testing {
namespace {

using ::testing::HasSubstr;

std::string Engine(const std::string& name) {
  return absl::StrCat("  - name: ", name, "\n    command: [\"", FleetHarness::ChildPath(),
                      "\"]\n    min_uptime: 100ms\n");
}

// systemd's side of sd_notify: a datagram socket bound at path; -1 on error.
int NotifySocket(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return -1;
  return fd;
}

TEST(SystemdTest, ReportsReadyToSystemd) {
  FleetHarness h;
  const std::string path = h.dir() + "/notify.sock";
  const int fd = NotifySocket(path);
  ASSERT_GE(fd, 0) << strerror(errno);
  h.WriteFile("fleet.yaml", FleetYaml(Engine("a")));
  ASSERT_TRUE(h.StartFleetd({"NOTIFY_SOCKET=" + path}).ok()) << h.FleetdLog();
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  char buffer[256] = {};
  ssize_t n = recv(fd, buffer, sizeof(buffer) - 1, 0);
  ASSERT_GT(n, 0);
  EXPECT_THAT(std::string(buffer, n), HasSubstr("READY=1"));
  close(fd);
}

TEST(SystemdTest, PingsSystemdsWatchdogFromItsLoopAndStopsWhenTheLoopDoes) {
  FleetHarness h;
  const std::string path = h.dir() + "/notify.sock";
  const int fd = NotifySocket(path);
  ASSERT_GE(fd, 0) << strerror(errno);
  h.WriteFile("fleet.yaml", FleetYaml(Engine("a")));
  ASSERT_TRUE(h.StartFleetd({"NOTIFY_SOCKET=" + path, "WATCHDOG_USEC=200000"}).ok())
      << h.FleetdLog();
  // Pings (every 100ms) counted over a window.
  auto pings_within = [&](absl::Duration window) {
    int pings = 0;
    const absl::Time end = absl::Now() + window;
    while (absl::Now() < end) {
      timeval timeout{0, 50000};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
      char buffer[256] = {};
      ssize_t n = recv(fd, buffer, sizeof(buffer) - 1, 0);
      if (n > 0 && std::string(buffer, n).find("WATCHDOG=1") != std::string::npos) ++pings;
    }
    return pings;
  };
  EXPECT_GE(pings_within(absl::Seconds(1)), 5);
  EXPECT_THAT(h.Fleetctl({"status"}).out, HasSubstr("watchdog on"));
  // A loop that does not run (here: stopped) sends none; systemd would
  // restart it. Back, it pings again.
  kill(h.fleetd_pid(), SIGSTOP);
  pings_within(absl::Milliseconds(200));  // Drain what was already sent.
  EXPECT_EQ(pings_within(absl::Seconds(1)), 0);
  kill(h.fleetd_pid(), SIGCONT);
  EXPECT_GE(pings_within(absl::Seconds(1)), 3);
  close(fd);
}

TEST(SystemdTest, InstallSystemdWritesANotifyUnitAndNeverOverwritesAChangedOne) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", FleetYaml(Engine("a")));
  const std::string dir = h.dir() + "/units";
  CommandResult wrote =
      h.Fleetctl({"install", "systemd", "--config", h.dir() + "/fleet.yaml", "--unit-dir", dir});
  ASSERT_EQ(wrote.exit_code, 0) << wrote.err;
  EXPECT_THAT(wrote.out, HasSubstr("daemon-reload"));
  std::string unit = os::ReadFile(dir + "/fleetd.service").value_or("");
  EXPECT_THAT(unit, HasSubstr("Type=notify"));
  EXPECT_THAT(unit, HasSubstr("WatchdogSec="));
  // Workers must outlive a fleetd that dies, so the next one can adopt them.
  EXPECT_THAT(unit, HasSubstr("KillMode=process"));
  EXPECT_THAT(unit, HasSubstr("Delegate=yes"));
  EXPECT_THAT(unit, HasSubstr("Restart=always"));
  EXPECT_THAT(unit, HasSubstr(absl::StrCat("--config ", h.dir(), "/fleet.yaml")));
  h.WriteFile("units/fleetd.service", unit + "# the operator's edit\n");
  CommandResult again =
      h.Fleetctl({"install", "systemd", "--config", h.dir() + "/fleet.yaml", "--unit-dir", dir});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("exists and differs; nothing was changed"));
  EXPECT_THAT(os::ReadFile(dir + "/fleetd.service").value_or(""), HasSubstr("the operator's edit"));
  EXPECT_EQ(h.Fleetctl({"install", "systemd"}).exit_code, 2);
  EXPECT_EQ(h.Fleetctl({"install", "cron"}).exit_code, 2);
}

}  // namespace
}  // namespace fleet::testing
