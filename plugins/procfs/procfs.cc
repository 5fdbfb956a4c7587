#include "plugins/procfs/procfs.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include "plugins/sdk/untrusted_file.h"

namespace fleet::plugins::procfs {

bool OpenByAnyProcess(const std::string& path) {
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return true;
  bool open = false;
  while (dirent* p = ::readdir(proc)) {
    if (p->d_name[0] < '0' || p->d_name[0] > '9') continue;
    const std::string fd_dir = std::string("/proc/") + p->d_name + "/fd";
    DIR* fds = ::opendir(fd_dir.c_str());
    if (fds == nullptr) continue;
    while (dirent* f = ::readdir(fds)) {
      char target[4096];
      ssize_t n = ::readlink((fd_dir + "/" + f->d_name).c_str(), target, sizeof(target) - 1);
      if (n > 0 && path.compare(0, std::string::npos, target, static_cast<size_t>(n)) == 0) {
        open = true;
        break;
      }
    }
    ::closedir(fds);
    if (open) break;
  }
  ::closedir(proc);
  return open;
}

uint64_t StartTime(pid_t pid) {
  // Not an istreambuf_iterator: libstdc++ throws when read(2) fails, and
  // it fails (ESRCH) for a process that exits mid-read.
  const std::string stat =
      sdk::ReadUntrustedFile("/proc/" + std::to_string(pid) + "/stat", 4096).content;
  // The command (field 2) may hold spaces and parentheses: count from its end.
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22 && (rest >> field); ++i) {
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  }
  return 0;
}

bool OwnerAlive(const std::string& owner_record) {
  std::istringstream in(owner_record);
  long long pid = 0;
  unsigned long long start = 0;
  if (!(in >> pid) || pid <= 0) return false;
  const bool has_start = static_cast<bool>(in >> start);
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return false;
  return !has_start || StartTime(static_cast<pid_t>(pid)) == start;
}

}  // namespace fleet::plugins::procfs
