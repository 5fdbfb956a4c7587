// Log hygiene with real workers: the free-disk floor, the directory budget,
// and a log that cannot be written; the workers are never touched.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/fleet_harness.h"

namespace fleet::testing {
namespace {

using ::testing::HasSubstr;
namespace ctl = ::fleet::control::v1;
namespace fs = std::filesystem;

// A worker printing a line every 50ms.
std::string Chatty(const std::string& name) {
  return absl::StrCat("  - name: ", name,
                      "\n    shell: 'while true; do echo tick tick tick tick tick tick; sleep 0.05; "
                      "done'\n");
}

uint64_t SizeOr0(const std::string& path) {
  std::error_code ec;
  uint64_t size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

bool EventSeen(const FleetHarness& h, const std::string& text) {
  return h.Fleetctl({"events", "-n", "200"}).out.find(text) != std::string::npos;
}

TEST(LogsTest, BelowTheFreeDiskFloorOutputIsDroppedAndCountedThenResumes) {
  FleetHarness h;
  // A floor no disk meets: paused from the first check.
  const std::string fleet = "name: it\nrun_dir: run\nlogs: {min_free_size: %s}\nengines:\n" +
                            Chatty("w");
  auto with_floor = [&](const std::string& floor) {
    std::string text = fleet;
    text.replace(text.find("%s"), 2, floor);
    return text;
  };
  h.WriteFile("fleet.yaml", with_floor("1000000GB"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return EventSeen(h, "logs_paused"); },
                                      absl::Seconds(15)));
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return h.Instance("w/0").log_dropped_bytes() > 100; }, absl::Seconds(10)));
  const uint64_t size_paused = SizeOr0(h.run_dir() + "/logs/w.0.log");
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(SizeOr0(h.run_dir() + "/logs/w.0.log"), size_paused);  // Nothing written.
  // Space "returns" (a floor the disk meets): writing resumes by itself.
  h.WriteFile("fleet.yaml", with_floor("1MB"));
  ASSERT_EQ(h.Fleetctl({"reload"}).exit_code, 0);
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return EventSeen(h, "logs_resumed"); },
                                      absl::Seconds(15)))
      << h.Fleetctl({"events", "-n", "50"}).out;
  ASSERT_TRUE(FleetHarness::WaitUntil(
      [&] { return SizeOr0(h.run_dir() + "/logs/w.0.log") > size_paused; },
      absl::Seconds(10)));
  EXPECT_EQ(h.Instance("w/0").restarts(), 0u);
}

TEST(LogsTest, TheLogsDirectoryIsKeptUnderItsBudgetOldestRotatedFirst) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", "name: it\nrun_dir: run\n"
                            "logs: {max_size: 4KB, max_files: 20, total_max_size: 24KB}\n"
                            "engines:\n" + Chatty("a") + Chatty("b"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  // Checked every 10s; the shell loops print slower on a loaded machine.
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return EventSeen(h, "logs_trimmed"); },
                                      absl::Seconds(60)))
      << h.Fleetctl({"events", "-n", "50"}).out;
  uint64_t total = 0;
  for (const auto& e : fs::directory_iterator(h.run_dir() + "/logs")) total += e.file_size();
  // The budget, plus what was written since the last check (10s at most).
  EXPECT_LE(total, 24u * 1024 + 2 * 10 * 20 * 40);
  EXPECT_TRUE(fs::exists(h.run_dir() + "/logs/a.0.log"));  // Live logs stay.
  EXPECT_TRUE(fs::exists(h.run_dir() + "/logs/b.0.log"));
}

TEST(LogsTest, ALogThatCannotBeWrittenIsReportedAndTheWorkerGoesOn) {
  FleetHarness h;
  fs::create_directories(h.run_dir() + "/logs");
  // A symlink planted at the log's name (to /dev/full here; to a root-only
  // file in an attack) is never written through.
  fs::create_symlink("/dev/full", h.run_dir() + "/logs/w.0.log");
  h.WriteFile("fleet.yaml", "name: it\nrun_dir: run\nengines:\n" + Chatty("w"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return EventSeen(h, "log_write_failed"); },
                                      absl::Seconds(10)));
  EXPECT_TRUE(EventSeen(h, "is a symlink; fleetd does not write through it"));
  ctl::InstanceStatus i = h.Instance("w/0");
  EXPECT_GT(i.log_dropped_bytes(), 0u);
  EXPECT_THAT(i.log_error(), HasSubstr("is a symlink"));
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(h.Instance("w/0").restarts(), 0u);
  EXPECT_EQ(h.Instance("w/0").state(), ctl::INSTANCE_STATE_RUNNING);
}

TEST(LogsTest, ALiveLogDeletedUnderFleetdIsStartedAgainAtItsPath) {
  FleetHarness h;
  h.WriteFile("fleet.yaml", "name: it\nrun_dir: run\nengines:\n" + Chatty("w"));
  ASSERT_TRUE(h.StartFleetd().ok()) << h.FleetdLog();
  const std::string log = h.run_dir() + "/logs/w.0.log";
  ASSERT_TRUE(FleetHarness::WaitUntil([&] { return fs::exists(log) && fs::file_size(log) > 0; },
                                      absl::Seconds(10)));
  fs::remove(log);
  // The janitor looks every 10 s; the output comes back in a new file.
  EXPECT_TRUE(FleetHarness::WaitUntil([&] { return fs::exists(log) && fs::file_size(log) > 0; },
                                      absl::Seconds(25)))
      << h.Fleetctl({"events", "-n", "20"}).out;
  EXPECT_TRUE(EventSeen(h, "log_reopened"));
}

}  // namespace
}  // namespace fleet::testing
