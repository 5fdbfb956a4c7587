#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/os/env.h"
#include "core/os/files.h"
#include "plugins/sdk/untrusted_file.h"

namespace fleet::os {
namespace {

absl::Status Errno(const std::string& what) { return absl::ErrnoToStatus(errno, what); }

absl::Status WriteAll(int fd, const std::string& content, const std::string& path) {
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = CurrentEnv()->Write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno(absl::StrCat("write ", path));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  int fd = CurrentEnv()->Open(path.c_str(), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return Errno(absl::StrCat("open ", path));
  std::string content;
  char buffer[65536];
  for (;;) {
    ssize_t n = CurrentEnv()->Read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status status = Errno(absl::StrCat("read ", path));
      ::close(fd);
      return status;
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return content;
}

namespace {

absl::Status ToStatus(const sdk::UntrustedRead& r) {
  switch (r.error) {
    case sdk::ReadError::kNone:
      return absl::OkStatus();
    case sdk::ReadError::kOpen:
    case sdk::ReadError::kRead:
      return absl::ErrnoToStatus(r.saved_errno, r.message);
    case sdk::ReadError::kSymlink:
    case sdk::ReadError::kNotRegular:
      return absl::FailedPreconditionError(r.message);
    case sdk::ReadError::kTooLarge:
      return absl::ResourceExhaustedError(r.message);
  }
  return absl::InternalError(r.message);
}

}  // namespace

absl::StatusOr<std::string> ReadUntrustedFile(const std::string& path, size_t limit) {
  sdk::UntrustedRead r = sdk::ReadUntrustedFile(path, limit);
  if (!r.ok()) return ToStatus(r);
  return std::move(r.content);
}

absl::StatusOr<std::string> ReadFileBounded(const std::string& path, size_t limit) {
  sdk::UntrustedRead r = sdk::ReadUntrustedFileAt(AT_FDCWD, path, limit, /*follow_symlinks=*/true);
  if (!r.ok()) return ToStatus(r);
  return std::move(r.content);
}

absl::StatusOr<std::string> ReadUntrustedFileHead(const std::string& path, size_t limit) {
  sdk::UntrustedRead r = sdk::ReadUntrustedFileAt(AT_FDCWD, path, limit);
  if (!r.ok() && r.error != sdk::ReadError::kTooLarge) return ToStatus(r);
  return std::move(r.content);
}

absl::StatusOr<int> OpenUntrustedFile(const std::string& path) {
  sdk::UntrustedRead r;
  const int fd = sdk::OpenUntrustedFileAt(AT_FDCWD, path, &r);
  if (fd < 0) return ToStatus(r);
  return fd;
}

absl::Status WriteFileAtomic(const std::string& path, const std::string& content, mode_t mode,
                             Durability durability) {
  const bool sync = durability == Durability::kSurvivesPowerLoss;
  std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  // O_NOFOLLOW: a symlink planted at the temporary name is not written through.
  Env* env = CurrentEnv();
  int fd = env->Open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return Errno(absl::StrCat("create ", tmp));
  absl::Status status = WriteAll(fd, content, tmp);
  if (status.ok() && sync && env->Fsync(fd) != 0) status = Errno(absl::StrCat("fsync ", tmp));
  if (::close(fd) != 0 && status.ok()) status = Errno(absl::StrCat("close ", tmp));
  if (status.ok() && env->Rename(tmp.c_str(), path.c_str()) != 0) {
    status = Errno(absl::StrCat("rename ", tmp, " to ", path));
  }
  if (!status.ok()) {
    env->Unlink(tmp.c_str());
    return status;
  }
  if (!sync) return absl::OkStatus();
  // The rename itself must survive a power loss: the directory is synced.
  int dir = env->Open(DirName(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (dir < 0) return Errno(absl::StrCat("open ", DirName(path), " to sync ", path));
  const bool synced = env->Fsync(dir) == 0;
  const int saved = errno;
  ::close(dir);
  // EINVAL: this file system cannot sync a directory (some FUSE ones);
  // nothing more can be done there.
  if (!synced && saved != EINVAL) {
    errno = saved;
    return Errno(absl::StrCat("fsync ", DirName(path), " after renaming ", path));
  }
  return absl::OkStatus();
}

absl::Status MakeDirs(const std::string& path, mode_t mode) {
  if (path.empty()) return absl::InvalidArgumentError("MakeDirs: empty path");
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(path, " exists and is not a directory"));
  }
  std::string parent = DirName(path);
  if (parent != path && parent != "." && parent != "/") {
    absl::Status status = MakeDirs(parent, 0755);
    if (!status.ok()) return status;
  }
  if (CurrentEnv()->Mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return Errno(absl::StrCat("mkdir ", path));
  }
  return absl::OkStatus();
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string ExpandHome(const std::string& path) {
  if (path.empty() || path[0] != '~') return path;
  if (path.size() > 1 && path[1] != '/') return path;  // ~user is not expanded.
  const char* home = ::getenv("HOME");
  if (home == nullptr) return path;
  return absl::StrCat(home, path.substr(1));
}

std::string JoinPath(const std::string& dir, const std::string& path) {
  if (path.empty()) return dir;
  if (path[0] == '/' || dir.empty()) return path;
  if (dir.back() == '/') return absl::StrCat(dir, path);
  return absl::StrCat(dir, "/", path);
}

std::string AbsolutePath(const std::string& given) {
  const std::string path = ExpandHome(given);
  if (path.empty() || path[0] == '/') return path;
  char cwd[4096];
  if (::getcwd(cwd, sizeof(cwd)) == nullptr) return path;
  return JoinPath(cwd, path);
}

std::vector<std::string> ListDirectory(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') out.push_back(e->d_name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace fleet::os
