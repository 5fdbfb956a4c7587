#include "core/os/process.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace fleet::os {
namespace {

std::vector<std::string> Env() { return {"PATH=/usr/bin:/bin"}; }

// Waits (bounded) for pid to be reaped and returns its status.
ExitStatus WaitFor(pid_t pid) {
  for (int i = 0; i < 500; ++i) {
    for (const Reaped& r : ReapExitedChildren()) {
      if (r.pid == pid) return r.status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "pid " << pid << " did not exit";
  return {};
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  return out;
}

TEST(SpawnTest, ReportsExitCode) {
  auto pid = Spawn({{"sh", "-c", "exit 3"}, Env(), "", -1});
  ASSERT_TRUE(pid.ok()) << pid.status();
  ExitStatus status = WaitFor(*pid);
  EXPECT_FALSE(status.signaled);
  EXPECT_EQ(status.code, 3);
  EXPECT_EQ(status.Describe(), "exited with status 3");
}

TEST(SpawnTest, ReportsSignal) {
  auto pid = Spawn({{"sleep", "30"}, Env(), "", -1});
  ASSERT_TRUE(pid.ok()) << pid.status();
  EXPECT_TRUE(SignalGroup(*pid, SIGKILL));
  ExitStatus status = WaitFor(*pid);
  EXPECT_TRUE(status.signaled);
  EXPECT_EQ(status.Describe(), "killed by SIGKILL");
}

TEST(SpawnTest, ChildGetsOwnGroupCwdAndEnv) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  auto pid = Spawn({{"sh", "-c", "echo $FOO; pwd; ps -o pgid= -p $$ | tr -d ' '"},
                    {"PATH=/usr/bin:/bin", "FOO=bar"},
                    "/tmp",
                    pipe_fds[1]});
  close(pipe_fds[1]);
  ASSERT_TRUE(pid.ok()) << pid.status();
  std::string out = ReadAll(pipe_fds[0]);
  close(pipe_fds[0]);
  EXPECT_TRUE(WaitFor(*pid).Success());
  EXPECT_EQ(out, "bar\n/tmp\n" + std::to_string(*pid) + "\n");
}

TEST(SpawnTest, ChildInheritsNoDescriptorButStdio) {
  int leaked = open("/dev/null", O_RDONLY);  // No O_CLOEXEC: must still not leak.
  ASSERT_GE(leaked, 3);
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  // The child program lists its descriptors without counting the directory
  // stream it reads them through (a shell cannot).
  const std::string child = std::string(getenv("TEST_SRCDIR")) + "/fleet/tests/testdata/child";
  const std::string dump = std::string(getenv("TEST_TMPDIR")) + "/fds";
  auto pid = Spawn({{child, "--dump-fds", dump, "--exit-after", "0"}, Env(), "", pipe_fds[1]});
  close(pipe_fds[1]);
  close(leaked);
  ASSERT_TRUE(pid.ok()) << pid.status();
  ReadAll(pipe_fds[0]);
  close(pipe_fds[0]);
  EXPECT_TRUE(WaitFor(*pid).Success());
  std::ifstream in(dump);
  std::string fds;
  std::getline(in, fds);
  EXPECT_EQ(fds, "0 1 2");
}

TEST(SpawnTest, MissingProgramAndCwdAreNamed) {
  auto missing = Spawn({{"no-such-program-xyz"}, Env(), "", -1});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("no-such-program-xyz"), std::string::npos);
  auto bad_cwd = Spawn({{"true"}, Env(), "/no/such/dir", -1});
  EXPECT_EQ(bad_cwd.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(bad_cwd.status().message().find("/no/such/dir"), std::string::npos);
}

TEST(ProcessStartTimeTest, KnowsLiveAndDeadPids) {
  EXPECT_TRUE(ProcessStartTime(getpid()).has_value());
  auto pid = Spawn({{"true"}, Env(), "", -1});
  ASSERT_TRUE(pid.ok());
  WaitFor(*pid);
  EXPECT_FALSE(ProcessStartTime(*pid).has_value());
}

TEST(SignalNameTest, RoundTrips) {
  EXPECT_EQ(SignalFromName("TERM"), SIGTERM);
  EXPECT_EQ(SignalFromName("SIGINT"), SIGINT);
  EXPECT_EQ(SignalFromName("9"), SIGKILL);
  EXPECT_FALSE(SignalFromName("NOPE").has_value());
  EXPECT_EQ(SignalName(SIGTERM), "SIGTERM");
}

}  // namespace
}  // namespace fleet::os
