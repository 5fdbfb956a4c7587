// A bare Git remote as a test sees it, through libgit2: what reached it, and
// what lock files were left behind.
#ifndef FLEET_TESTS_INTEGRATION_GIT_REMOTE_H_
#define FLEET_TESTS_INTEGRATION_GIT_REMOTE_H_

#include <map>
#include <string>
#include <vector>

namespace fleet::testing {

class Remote {
 public:
  explicit Remote(std::string path);
  ~Remote();
  Remote(const Remote&) = delete;
  Remote& operator=(const Remote&) = delete;

  const std::string& path() const { return path_; }
  // Commits on main by author name.
  std::map<std::string, int> CommitsByAuthor() const;
  // A file's content at main ("" when absent).
  std::string File(const std::string& file) const;
  // Paths of every file in main's tree (recursively), with their contents.
  std::map<std::string, std::string> Files() const;
  // Files() as of every commit on main, newest first.
  std::vector<std::map<std::string, std::string>> FilesAtEveryCommit() const;

 private:
  std::vector<std::map<std::string, std::string>> Walk(bool only_head) const;

  std::string path_;
};

// Creates dir/remote.git, a bare repository.
std::string InitBareRemote(const std::string& dir);

// Every lock file left under dir (Git's *.lock), full paths.
std::vector<std::string> LockFiles(const std::string& dir);

}  // namespace fleet::testing

#endif  // FLEET_TESTS_INTEGRATION_GIT_REMOTE_H_
