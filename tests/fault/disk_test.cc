// Faults of the disk: the run directory on a tmpfs that fills up (ENOSPC for
// every write), and EIO on one log's writes injected into fleetd with strace.
// Supervision goes on, nothing already stored is truncated, every failure is
// reported, and service resumes by itself when the disk does.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>

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
namespace fs = std::filesystem;

// A line every 50ms.
std::string Chatty(const std::string& name) {
  return absl::StrCat("  - name: ", name,
                      "\n    shell: 'while true; do echo tick tick tick; sleep 0.05; done'\n");
}

std::string Events(const FleetHarness& h) { return h.Fleetctl({"events", "-n", "300"}).out; }

size_t Occurrences(const std::string& text, const std::string& word) {
  size_t n = 0;
  for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) ++n;
  return n;
}

uint64_t SizeOr0(const std::string& path) {
  std::error_code ec;
  uint64_t size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

// Sizes of the regular files under dir.
std::map<std::string, uint64_t> Sizes(const std::string& dir) {
  std::map<std::string, uint64_t> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) out[it->path().string()] = it->file_size(ec);
  }
  return out;
}

// Unmounts (lazily: fleetd may still hold files) when the test ends, before
// the harness removes the directory.
struct Unmount {
  std::string dir;
  ~Unmount() {
    if (!dir.empty()) umount2(dir.c_str(), MNT_DETACH);
  }
};

// Fills the filesystem holding path until a write fails with ENOSPC.
void Fill(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  std::string chunk(64 * 1024, 'f');
  for (;;) {
    ssize_t n = write(fd, chunk.data(), chunk.size());
    if (n < 0) {
      ASSERT_EQ(errno, ENOSPC);
      break;
    }
    if (n < static_cast<ssize_t>(chunk.size())) chunk.resize(chunk.size() - n);  // Then ENOSPC.
  }
  close(fd);
}

TEST(DiskFaultTest, ARunDirectoryThatFillsUpStopsNothingAndHealsWhenSpaceReturns) {
  FleetHarness h;
  fs::create_directories(h.run_dir());
  if (mount("tmpfs", h.run_dir().c_str(), "tmpfs", 0, "size=4m,mode=0700") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << strerror(errno) << "); needs root";
  }
  Unmount unmount{h.run_dir()};
  h.WriteFile("fleet.yaml", absl::StrCat("name: it\nrun_dir: run\nlogs: {min_free_size: 64KB}\n",
                                         "engines:\n", Chatty("talk"), "  - name: k\n",
                                         "    command: [\"", FleetHarness::ChildPath(),
                                         "\"]\n    min_uptime: 3s\n    backoff: {initial: 1s}\n"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  const std::vector<std::string> ids = {"talk/0", "k/0"};
  ASSERT_THAT(AwaitHealed(h, ids, absl::Seconds(15)), IsEmpty());
  const std::string log = h.run_dir() + "/logs/talk.0.log";
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return SizeOr0(log) > 0; }, absl::Seconds(10)));
  const std::map<std::string, uint64_t> stored = Sizes(h.run_dir());

  Fill(h.run_dir() + "/filler");
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        const std::string e = Events(h);
        return e.find("logs_paused") != std::string::npos ||
               e.find("log_write_failed") != std::string::npos;
      },
      absl::Seconds(20)))
      << Events(h);
  // Supervision goes on: a worker that dies now is restarted (at once: it
  // had run stably). Killed again before min_uptime, it backs off: its old
  // pid record is removed at its exit, and the page that frees is filled
  // again before the restart (1s later) writes the new one.
  const pid_t stable = h.Instance("k/0").pid();
  ASSERT_EQ(kill(stable, SIGKILL), 0);
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("k/0").pid() != stable && h.Instance("k/0").pid() > 0; },
      absl::Seconds(5)));
  const pid_t old = h.Instance("k/0").pid();
  ASSERT_EQ(kill(old, SIGKILL), 0);
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return !fs::exists(h.run_dir() + "/instances/k.0"); },
                                      absl::Seconds(5)));
  Fill(h.run_dir() + "/filler2");
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("k/0").pid() != old && h.Instance("k/0").pid() > 0; },
      absl::Seconds(10)));
  EXPECT_THAT(AwaitHealed(h, ids, absl::Seconds(10)), IsEmpty());
  // ...and its pid record, which cannot be written, is reported.
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return Events(h).find("record_failed") != std::string::npos; }, absl::Seconds(5)))
      << Events(h);
  // Nothing stored before the disk filled was truncated.
  for (const auto& [path, size] : Sizes(h.run_dir())) {
    auto it = stored.find(path);
    if (it != stored.end() && it->second > 0) EXPECT_GT(size, 0u) << path << " was emptied";
  }

  // Space returns: logs resume and the record is written, by themselves.
  // (records_resumed may already have been said once: when the first
  // unrecorded run exited, every run left was recorded.)
  const size_t resumed_before = Occurrences(Events(h), "records_resumed");
  ASSERT_EQ(unlink((h.run_dir() + "/filler").c_str()), 0);
  ASSERT_EQ(unlink((h.run_dir() + "/filler2").c_str()), 0);
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return Occurrences(Events(h), "records_resumed") > resumed_before &&
               fs::exists(h.run_dir() + "/instances/k.0");
      },
      absl::Seconds(10)))
      << Events(h);
  const uint64_t size_before = SizeOr0(log);
  EXPECT_TRUE(
      FleetHarness::WaitUntil([&] { return SizeOr0(log) > size_before; }, absl::Seconds(20)))
      << Events(h);
  // The record written late is what lets a fleetd restart take k/0 back
  // instead of starting a second copy beside it.
  const pid_t current = h.Instance("k/0").pid();
  ASSERT_EQ(kill(h.fleetd_pid(), SIGKILL), 0);
  ASSERT_EQ(h.WaitFleetdExit(absl::Seconds(10)), 128 + SIGKILL);
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  EXPECT_THAT(AwaitHealed(h, ids, absl::Seconds(15)), IsEmpty());
  EXPECT_EQ(h.Instance("k/0").pid(), current) << Events(h) << h.FleetdLog();
}

TEST(DiskFaultTest, EioOnALogsWritesIsReportedAndTheWorkerGoesOn) {
  if (!StraceWorks()) GTEST_SKIP() << "strace is not installed or cannot trace here";
  FleetHarness h;
  h.WriteFile("fleet.yaml", "name: it\nrun_dir: run\nengines:\n" + Chatty("talk"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  const std::string log = h.run_dir() + "/logs/talk.0.log";
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return SizeOr0(log) > 0; }, absl::Seconds(10)));
  // Every write fleetd makes to that one log fails with EIO while strace is
  // attached (all of fleetd's threads); nothing else is touched.
  const std::string pid = std::to_string(h.fleetd_pid());
  pid_t tracer = fork();
  if (tracer == 0) {
    execlp("strace", "strace", "-qq", "-f", "-o", "/dev/null", "-p", pid.c_str(), "-P", log.c_str(),
           "-e", "trace=write,writev,pwrite64", "-e", "inject=write,writev,pwrite64:error=EIO",
           nullptr);
    _exit(127);
  }
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return h.Instance("talk/0").log_error().find("Input/output error") != std::string::npos;
      },
      absl::Seconds(15)))
      << Events(h);
  EXPECT_THAT(Events(h), HasSubstr("log_write_failed"));
  const uint64_t size_failing = SizeOr0(log);
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(SizeOr0(log), size_failing);  // Nothing half-written.
  EXPECT_GT(h.Instance("talk/0").log_dropped_bytes(), 0u);
  EXPECT_EQ(h.Instance("talk/0").restarts(), 0u);

  kill(tracer, SIGINT);  // strace detaches; writes work again.
  waitpid(tracer, nullptr, 0);
  EXPECT_TRUE(
      FleetHarness::WaitUntil([&] { return SizeOr0(log) > size_failing; }, absl::Seconds(10)));
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] { return Events(h).find("log_write_resumed") != std::string::npos; }, absl::Seconds(10)))
      << Events(h);
  EXPECT_THAT(AwaitHealed(h, {"talk/0"}, absl::Seconds(10)), IsEmpty());
  EXPECT_EQ(h.Instance("talk/0").restarts(), 0u);
}

// A disk whose every fsync takes 2 s (strace delays them in all of fleetd's
// threads): the work-bus, which fsyncs every task it offers, slows down;
// supervision does not. Status keeps answering and a killed worker comes
// back while a submitted run is being published.
TEST(DiskFaultTest, SlowFsyncsDelayTheBusButNeverTheSupervisionLoop) {
  if (!StraceWorks()) GTEST_SKIP() << "strace is not installed or cannot trace here";
  FleetHarness h;
  h.WriteFile("fleet.yaml",
              "name: it\nrun_dir: run\nengines:\n"
              "  - name: idle\n    capabilities: [llm]\n    shell: 'exec sleep 1000'\n"
              "    backoff: {initial: 10ms}\n");
  h.WriteFile("goal.yaml",
              "tasks:\n  - {id: a, capability: llm}\n  - {id: b, capability: llm}\n"
              "  - {id: c, capability: llm}\n");
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_THAT(AwaitHealed(h, {"idle/0"}, absl::Seconds(10)), IsEmpty());
  const std::string pid = std::to_string(h.fleetd_pid());
  pid_t tracer = fork();
  if (tracer == 0) {
    execlp("strace", "strace", "-qq", "-f", "-o", "/dev/null", "-p", pid.c_str(), "-e",
           "trace=fsync,fdatasync", "-e", "inject=fsync,fdatasync:delay_enter=2000000", nullptr);
    _exit(127);
  }
  absl::SleepFor(absl::Milliseconds(500));  // strace attaches.
  pid_t submit = fork();
  if (submit == 0) {
    const std::string run_dir = "FLEET_RUN_DIR=" + h.run_dir();
    putenv(const_cast<char*>(run_dir.c_str()));
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execl(FleetHarness::FleetctlPath().c_str(), "fleetctl", "bus", "submit",
          (h.dir() + "/goal.yaml").c_str(), "--run", "slow", nullptr);
    _exit(127);
  }
  // Through the slow publishing: every status answers, in well under its
  // deadline, and a killed worker is started again.
  const pid_t before = h.Instance("idle/0").pid();
  ASSERT_GT(before, 0);
  ASSERT_EQ(kill(before, SIGKILL), 0);
  bool restarted = false;
  const absl::Time end = absl::Now() + absl::Seconds(6);
  while (absl::Now() < end) {
    const absl::Time asked = absl::Now();
    absl::StatusOr<fleet::control::v1::GetStatusResponse> status = h.Status();
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_LT(absl::Now() - asked, absl::Seconds(3));  // The deadline is 10 s.
    const pid_t now = h.Instance("idle/0").pid();
    restarted = restarted || (now > 0 && now != before);
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_TRUE(restarted) << Events(h);
  kill(tracer, SIGINT);
  waitpid(tracer, nullptr, 0);
  int submitted = 0;
  waitpid(submit, &submitted, 0);
  EXPECT_TRUE(FleetHarness::WaitUntil(
      [&] {
        return h.Fleetctl({"bus", "status", "slow"}).out.find("ready") != std::string::npos ||
               h.Fleetctl({"bus", "status", "slow"}).out.find("offered") != std::string::npos;
      },
      absl::Seconds(20)))
      << h.Fleetctl({"bus", "status", "slow"}).out << Events(h);
}

}  // namespace
}  // namespace fleet::testing
