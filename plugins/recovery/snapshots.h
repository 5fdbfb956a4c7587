// Known-good versions of protected files: per file, a bounded history of
// content-addressed copies (identical versions are stored once), newest last.
// Layout: <dir>/<escaped path>/<hash>-<size> and .../history (ids, newest
// last). Std only.
#ifndef FLEET_PLUGINS_RECOVERY_SNAPSHOTS_H_
#define FLEET_PLUGINS_RECOVERY_SNAPSHOTS_H_

#include <optional>
#include <string>
#include <vector>

namespace fleet::plugins::recovery {

// Writes content to path through a temporary file in the same directory,
// fsync and rename: readers see the old or the new file, never a torn one.
// "" or the error.
std::string WriteAtomically(const std::string& path, const std::string& content);

class SnapshotStore {
 public:
  SnapshotStore(std::string dir, unsigned keep) : dir_(std::move(dir)), keep_(keep ? keep : 10) {}

  // The newest known-good content of path and its id, if any.
  std::optional<std::string> Latest(const std::string& path, std::string* id) const;
  // Records content as path's newest known-good version; *recorded is false
  // when it already was the newest. Older versions past `keep` are deleted.
  // "" or the error.
  std::string Record(const std::string& path, const std::string& content, bool* recorded);

 private:
  std::string FileDir(const std::string& path) const;
  std::vector<std::string> History(const std::string& path) const;

  std::string dir_;
  unsigned keep_;
};

}  // namespace fleet::plugins::recovery

#endif  // FLEET_PLUGINS_RECOVERY_SNAPSHOTS_H_
