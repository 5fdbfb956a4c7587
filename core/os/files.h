// File helpers with fleet's durability rule: everything fleet writes goes to a
// temporary name in the same directory and is renamed into place.
#ifndef FLEET_CORE_OS_FILES_H_
#define FLEET_CORE_OS_FILES_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fleet::os {

// Whole file. kNotFound when it does not exist; the message names the path.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// A file that someone else can write (a worker, a remote, another user):
// opened without blocking (a FIFO) and without following a symlink, and
// refused unless it is a regular file; at most `limit` bytes, else
// kResourceExhausted. Every error names the path and why.
absl::StatusOr<std::string> ReadUntrustedFile(const std::string& path, size_t limit);

// Its first `limit` bytes (all of it if shorter); the same refusals.
absl::StatusOr<std::string> ReadUntrustedFileHead(const std::string& path, size_t limit);
// An fd open for reading on it (blocking, close-on-exec), for a child's
// stdin, say; the same refusals. Close it with close().
absl::StatusOr<int> OpenUntrustedFile(const std::string& path);

// A file the operator named (a config, a DAG): symlinks are followed, but
// a FIFO or device is refused and at most `limit` bytes are read.
absl::StatusOr<std::string> ReadFileBounded(const std::string& path, size_t limit);

enum class Durability {
  // fsync the file and the directory: after a power loss the path holds the
  // old or the new content.
  kSurvivesPowerLoss,
  // No fsync: readers (and a restarted process) still never see a torn file,
  // but a power loss may lose the update. For state that dies with a reboot
  // anyway (what processes are running), where fsync would cost latency.
  kSurvivesProcessCrash,
};

// Writes content to path.tmp.PID and renames it over path: the path holds the
// old or the new content, never a torn or empty file.
absl::Status WriteFileAtomic(const std::string& path, const std::string& content,
                             mode_t mode = 0644,
                             Durability durability = Durability::kSurvivesPowerLoss);

// mkdir -p; the last component gets `mode` (existing directories are left
// alone).
absl::Status MakeDirs(const std::string& path, mode_t mode = 0755);

// Whether path exists (any type; a dangling symlink does not).
bool Exists(const std::string& path);

// "~" and "~/x" -> $HOME and $HOME/x; anything else unchanged.
std::string ExpandHome(const std::string& path);

// dir/path unless path is absolute; dir is used as given.
std::string JoinPath(const std::string& dir, const std::string& path);

// path with "~" expanded, against the current directory when relative
// (made once, at start, so a later chdir cannot change what it names).
std::string AbsolutePath(const std::string& path);

// The directory part of path ("." if none).
std::string DirName(const std::string& path);

// The names in dir, sorted, without "." and ".." or other dot files; empty
// when it cannot be read.
std::vector<std::string> ListDirectory(const std::string& dir);

}  // namespace fleet::os

#endif  // FLEET_CORE_OS_FILES_H_
