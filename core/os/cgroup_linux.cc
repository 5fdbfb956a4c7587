#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/os/cgroup.h"

namespace fleet::os {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Where the cgroup2 hierarchy is mounted, from /proc/self/mountinfo
// ("ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS... - FSTYPE SOURCE SUPEROPTS").
std::string Cgroup2Mount() {
  for (absl::string_view line : absl::StrSplit(Slurp("/proc/self/mountinfo"), '\n')) {
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
  for (absl::string_view line : absl::StrSplit(Slurp("/proc/self/cgroup"), '\n')) {
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

}  // namespace

absl::StatusOr<std::string> PrepareCgroupRoot(const std::string& name) {
  const std::string mount = Cgroup2Mount();
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
  for (absl::string_view line :
       absl::StrSplit(Slurp(absl::StrCat(dir, "/cgroup.procs")), '\n', absl::SkipEmpty())) {
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

}  // namespace fleet::os
