#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/os/cgroup.h"
#include "core/os/kernel_file.h"

namespace fleet::os {
namespace {

// Where the cgroup2 hierarchy is mounted, from /proc/self/mountinfo
// ("ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS... - FSTYPE SOURCE SUPEROPTS").
std::string Cgroup2Mount() {
  for (absl::string_view line : absl::StrSplit(ReadKernelFile("/proc/self/mountinfo"), '\n')) {
    size_t dash = line.find(" - ");
    if (dash == absl::string_view::npos) continue;
    std::vector<absl::string_view> after = absl::StrSplit(line.substr(dash + 3), ' ');
    if (after.empty() || after[0] != "cgroup2") continue;
    std::vector<absl::string_view> before = absl::StrSplit(line.substr(0, dash), ' ');
    if (before.size() >= 5) return std::string(before[4]);
  }
  return "";
}

// This process's cgroup v2 path ("0::/system.slice/fleetd.service").
std::string OwnCgroup() {
  for (absl::string_view line : absl::StrSplit(ReadKernelFile("/proc/self/cgroup"), '\n')) {
    if (absl::StartsWith(line, "0::")) return std::string(line.substr(3));
  }
  return "";
}

bool WriteTo(const std::string& path, absl::string_view text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

// The value of `key` in a "key value" per line file (memory.events,
// memory.oom_control, /proc/vmstat).
std::optional<uint64_t> CounterIn(const std::string& path, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(ReadKernelFile(path), '\n')) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, ' ');
    uint64_t value = 0;
    if (kv.first == key && absl::SimpleAtoi(kv.second, &value)) return value;
  }
  return std::nullopt;
}

// The cgroup v1 memory cgroup fleetd is in (its children inherit it), as a
// directory, or "" where there is none (cgroup v2 only, or not mounted).
std::string OwnMemoryCgroupV1() {
  std::string path;  // From /proc/self/cgroup: "4:memory:/a/b".
  for (absl::string_view line : absl::StrSplit(ReadKernelFile("/proc/self/cgroup"), '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (f.size() != 3) continue;
    for (absl::string_view controller : absl::StrSplit(f[1], ',')) {
      if (controller == "memory") path = std::string(f[2]);
    }
  }
  if (path.empty()) return "";
  for (absl::string_view line : absl::StrSplit(ReadKernelFile("/proc/self/mountinfo"), '\n')) {
    size_t dash = line.find(" - ");
    if (dash == absl::string_view::npos) continue;
    std::vector<absl::string_view> after = absl::StrSplit(line.substr(dash + 3), ' ');
    std::vector<absl::string_view> before = absl::StrSplit(line.substr(0, dash), ' ');
    if (after.size() < 3 || after[0] != "cgroup" || before.size() < 5) continue;
    bool memory = false;
    for (absl::string_view option : absl::StrSplit(after[2], ',')) memory |= option == "memory";
    if (!memory) continue;
    // The mount shows the hierarchy from its root (ROOT, field 4) down.
    absl::string_view rest = path;
    if (before[3] != "/" && !absl::ConsumePrefix(&rest, before[3])) continue;
    return absl::StrCat(before[4], rest == "/" ? "" : rest);
  }
  return "";
}

}  // namespace

std::optional<OomKillCount> ReadOomKills(const std::string& leaf) {
  // memory.events counts its whole subtree, so the nearest cgroup that has
  // the memory controller on (the leaf, or fleetd's own unit) is the best.
  static const std::string* const mount_dir = new std::string(Cgroup2Mount());
  const std::string& mount = *mount_dir;
  for (std::string dir = leaf; !mount.empty() && absl::StartsWith(dir, mount + "/");
       dir = dir.substr(0, dir.rfind('/'))) {
    if (std::optional<uint64_t> n = CounterIn(absl::StrCat(dir, "/memory.events"), "oom_kill")) {
      return OomKillCount{*n, dir == leaf};
    }
  }
  static const std::string* const v1 = new std::string(OwnMemoryCgroupV1());
  if (!v1->empty()) {
    if (std::optional<uint64_t> n =
            CounterIn(absl::StrCat(*v1, "/memory.oom_control"), "oom_kill")) {
      return OomKillCount{*n, false};
    }
  }
  if (std::optional<uint64_t> n = CounterIn("/proc/vmstat", "oom_kill")) {
    return OomKillCount{*n, false};
  }
  return std::nullopt;
}

absl::StatusOr<std::string> PrepareCgroupRoot(const std::string& name) {
  static const std::string* const mount_dir = new std::string(Cgroup2Mount());
  const std::string& mount = *mount_dir;
  if (mount.empty()) return absl::UnavailableError("no cgroup2 hierarchy is mounted");
  const std::string own = OwnCgroup();
  if (own.empty()) return absl::UnavailableError("fleetd's cgroup v2 path is unknown");
  std::string root = absl::StrCat(mount, own == "/" ? "" : own, "/fleet.", name);
  if (::mkdir(root.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat("cannot create ", root, ": ", strerror(errno)));
  }
  if (::access(absl::StrCat(root, "/cgroup.procs").c_str(), W_OK) != 0) {
    return absl::UnavailableError(absl::StrCat(root, " is not writable: ", strerror(errno)));
  }
  return root;
}

absl::StatusOr<int> OpenCgroup(const std::string& dir) {
  const std::string parent = dir.substr(0, dir.rfind('/'));
  if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat("cannot create ", parent, ": ", strerror(errno)));
  }
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", strerror(errno)));
  }
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("open ", dir, ": ", strerror(errno)));
  return fd;
}

std::vector<std::string> ChildCgroups(const std::string& dir) {
  std::vector<std::string> children;
  // cgroupfs counts a directory's subdirectories in its link count (2 +
  // children): one stat answers for the usual leaf without a listing (a
  // status of a thousand instances asks a thousand times).
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0 && st.st_nlink <= 2) return children;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_type == DT_DIR && e->d_name[0] != '.') children.push_back(dir + "/" + e->d_name);
    }
    ::closedir(d);
  }
  return children;
}

std::vector<pid_t> CgroupPids(const std::string& dir) {
  std::vector<pid_t> pids;
  for (absl::string_view line : absl::StrSplit(ReadKernelFile(absl::StrCat(dir, "/cgroup.procs")),
                                               '\n', absl::SkipEmpty())) {
    pid_t pid = 0;
    if (absl::SimpleAtoi(line, &pid) && pid > 0) pids.push_back(pid);
  }
  for (const std::string& child : ChildCgroups(dir)) {
    std::vector<pid_t> more = CgroupPids(child);
    pids.insert(pids.end(), more.begin(), more.end());
  }
  return pids;
}

int SignalCgroup(const std::string& dir, int sig) {
  std::vector<pid_t> pids = CgroupPids(dir);
  // cgroup.kill (Linux 5.14) also stops forks racing with the kill.
  if (sig == SIGKILL && !pids.empty() && WriteTo(absl::StrCat(dir, "/cgroup.kill"), "1")) {
    return static_cast<int>(pids.size());
  }
  int signalled = 0;
  for (pid_t pid : pids) {
    if (pid > 1 && ::kill(pid, sig) == 0) ++signalled;
  }
  return signalled;
}

bool RemoveCgroup(const std::string& dir) {
  for (const std::string& child : ChildCgroups(dir)) RemoveCgroup(child);
  return ::rmdir(dir.c_str()) == 0 || errno == ENOENT;
}

absl::StatusOr<int> OpenFreshLeaf(const std::string& leaf) {
  const size_t slash = leaf.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    for (const std::string& earlier : ChildCgroups(leaf.substr(0, slash))) RemoveCgroup(earlier);
  }
  return OpenCgroup(leaf);
}

}  // namespace fleet::os
