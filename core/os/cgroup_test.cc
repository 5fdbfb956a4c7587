// Spawning into a cgroup (clone3 CLONE_INTO_CGROUP) keeps Spawn's contract,
// and a grandchild that leaves its process group is still caught. Skipped
// where cgroup v2 is not writable (not root, no delegation).
#include "core/os/cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/os/process.h"
#include "gtest/gtest.h"

namespace fleet::os {
namespace {

class CgroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> root = PrepareCgroupRoot(absl::StrCat("test.", getpid()));
    if (!root.ok()) GTEST_SKIP() << root.status();
    root_ = *root;
    dir_ = root_ + "/one";
    absl::StatusOr<int> fd = OpenCgroup(dir_ + "/run-1");
    ASSERT_TRUE(fd.ok()) << fd.status();
    fd_ = *fd;
  }
  void TearDown() override {
    if (fd_ >= 0) close(fd_);
    if (root_.empty()) return;
    SignalCgroup(dir_, SIGKILL);
    for (int i = 0; i < 200 && !RemoveCgroup(dir_); ++i) Sleep();
    RemoveCgroup(root_);
  }
  static void Sleep() { std::this_thread::sleep_for(std::chrono::milliseconds(10)); }
  static bool Alive(pid_t pid) {
    // Not an istreambuf_iterator: libstdc++ throws when read(2) fails (ESRCH
    // for a process exiting mid-read).
    std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
    std::stringstream text;
    text << in.rdbuf();
    const std::string stat = text.str();
    size_t paren = stat.rfind(')');
    return paren != std::string::npos && stat.size() > paren + 2 && stat[paren + 2] != 'Z';
  }
  SpawnSpec Spec(std::vector<std::string> argv, int out) {
    SpawnSpec spec;
    spec.argv = std::move(argv);
    spec.env = {"PATH=/usr/bin:/bin", "FOO=bar"};
    spec.output_fd = out;
    spec.cgroup_fd = fd_;
    return spec;
  }
  std::string root_, dir_;
  int fd_ = -1;
};

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  return out;
}

TEST_F(CgroupTest, ChildIsBornInTheCgroupWithItsOwnGroupCwdEnvAndNoStrayFds) {
  int leaked = open("/dev/null", O_RDONLY);  // No O_CLOEXEC: must still not leak.
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  SpawnSpec spec = Spec({"sh", "-c",
                         "echo $FOO; pwd; ps -o pgid= -p $$ | tr -d ' '; "
                         "grep -c . /proc/self/cgroup >/dev/null; cat /proc/$$/cgroup | "
                         "grep '^0::'; ls /proc/$$/fd | tr '\\n' ' '"},
                        p[1]);
  spec.cwd = "/tmp";
  absl::StatusOr<pid_t> pid = Spawn(spec);
  close(p[1]);
  close(leaked);
  ASSERT_TRUE(pid.ok()) << pid.status();
  std::string out = ReadAll(p[0]);
  close(p[0]);
  EXPECT_TRUE(WaitProcess(*pid).Success());
  const std::string cgroup = dir_.substr(dir_.find("/fleet.test.")) + "/run-1";
  EXPECT_NE(out.find(absl::StrCat("bar\n/tmp\n", *pid, "\n")), std::string::npos) << out;
  EXPECT_NE(out.find(cgroup + "\n"), std::string::npos) << out << " wanted " << cgroup;
  EXPECT_NE(out.find("0 1 2 "), std::string::npos) << out;
  EXPECT_EQ(out.find(" 3 "), std::string::npos) << out;
}

TEST_F(CgroupTest, ExecFailureIsReportedLikePosixSpawn) {
  // Executable, but not a program: execve in the child fails (ENOEXEC).
  const std::string bogus = std::string(getenv("TEST_TMPDIR")) + "/bogus";
  {
    std::ofstream out(bogus);
    out << "\x7f"
        << "ELF not really";
  }
  chmod(bogus.c_str(), 0755);
  absl::StatusOr<pid_t> pid = Spawn(Spec({bogus}, 1));
  EXPECT_EQ(pid.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(pid.status().message().find("Exec format error"), std::string::npos) << pid.status();
  EXPECT_TRUE(CgroupPids(dir_).empty());  // The failed child was reaped.
  SpawnSpec bad_cwd = Spec({"true"}, 1);
  bad_cwd.cwd = "/no/such/dir";
  EXPECT_EQ(Spawn(bad_cwd).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CgroupTest, ASetsidGrandchildIsStillCaughtAndKilled) {
  const std::string child = std::string(getenv("TEST_SRCDIR")) + "/fleet/tests/testdata/child";
  const std::string file = std::string(getenv("TEST_TMPDIR")) + "/grandchild.pid";
  absl::StatusOr<pid_t> pid = Spawn(Spec({child, "--setsid-grandchild", file}, 1));
  ASSERT_TRUE(pid.ok()) << pid.status();
  pid_t grandchild = 0;
  for (int i = 0; i < 500 && grandchild == 0; ++i) {
    std::ifstream in(file);
    in >> grandchild;
    if (grandchild == 0) Sleep();
  }
  ASSERT_GT(grandchild, 0);
  // It left the process group: a group kill would miss it.
  EXPECT_NE(getpgid(grandchild), *pid);
  std::vector<pid_t> members = CgroupPids(dir_);
  EXPECT_EQ(members.size(), 2u);
  EXPECT_EQ(SignalCgroup(dir_, SIGKILL), 2);
  EXPECT_EQ(WaitProcess(*pid).signal, SIGKILL);
  for (int i = 0; i < 500 && Alive(grandchild); ++i) Sleep();
  EXPECT_FALSE(Alive(grandchild));
  // A fresh leaf beside the killed one takes a new child that lives.
  absl::StatusOr<int> fresh = OpenCgroup(root_ + "/one/run-2");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  SpawnSpec again = Spec({child}, 1);
  again.cgroup_fd = *fresh;
  absl::StatusOr<pid_t> second = Spawn(again);
  close(*fresh);
  ASSERT_TRUE(second.ok()) << second.status();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(Alive(*second));
  EXPECT_EQ(CgroupPids(dir_).size(), 1u);  // Counted through the parent.
  EXPECT_EQ(SignalCgroup(dir_, SIGKILL), 1);
  EXPECT_EQ(WaitProcess(*second).signal, SIGKILL);
  bool removed = false;
  for (int i = 0; i < 500 && !(removed = RemoveCgroup(dir_)); ++i) Sleep();
  EXPECT_TRUE(removed);
}

}  // namespace
}  // namespace fleet::os
