#include "plugins/recovery/snapshots.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fleet::plugins::recovery {
namespace {

namespace fs = std::filesystem;

// FNV-1a: names versions, it does not defend against anyone (the size is in
// the name too, and a stored version is compared before it is reused).
std::string Hash(const std::string& content) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : content) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char out[40];
  std::snprintf(out, sizeof(out), "%016llx-%zu", static_cast<unsigned long long>(h),
                content.size());
  return out;
}

std::optional<std::string> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::string WriteAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return "create " + tmp + ": " + std::strerror(errno);
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string error = "write " + tmp + ": " + std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return error;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    std::string error = "sync " + tmp + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return error;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string error = "rename " + tmp + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return error;
  }
  int dir = ::open(fs::path(path).parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return "";
}

std::string SnapshotStore::FileDir(const std::string& path) const {
  std::string escaped;
  for (char c : path) {
    if (c == '/') {
      escaped += "%2F";
    } else if (c == '%') {
      escaped += "%25";
    } else {
      escaped += c;
    }
  }
  return dir_ + "/" + escaped;
}

std::vector<std::string> SnapshotStore::History(const std::string& path) const {
  std::vector<std::string> ids;
  std::ifstream in(FileDir(path) + "/history");
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) ids.push_back(line);
  }
  return ids;
}

std::optional<std::string> SnapshotStore::Latest(const std::string& path, std::string* id) const {
  std::vector<std::string> ids = History(path);
  // Newest first; a version whose file is gone or damaged is skipped.
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    std::optional<std::string> content = ReadAll(FileDir(path) + "/" + *it);
    if (content.has_value() && Hash(*content) == *it) {
      if (id != nullptr) *id = FileDir(path) + "/" + *it;
      return content;
    }
  }
  return std::nullopt;
}

std::string SnapshotStore::Record(const std::string& path, const std::string& content,
                                  bool* recorded) {
  *recorded = false;
  const std::string id = Hash(content);
  std::vector<std::string> ids = History(path);
  if (!ids.empty() && ids.back() == id) return "";
  std::error_code ec;
  fs::create_directories(FileDir(path), ec);
  if (ec) return "create " + FileDir(path) + ": " + ec.message();
  const std::string object = FileDir(path) + "/" + id;
  std::optional<std::string> stored = ReadAll(object);
  if (!stored.has_value() || *stored != content) {
    if (std::string error = WriteAtomically(object, content); !error.empty()) return error;
  }
  ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
  ids.push_back(id);
  while (ids.size() > keep_) {
    ::unlink((FileDir(path) + "/" + ids.front()).c_str());
    ids.erase(ids.begin());
  }
  std::string history;
  for (const std::string& i : ids) history += i + "\n";
  if (std::string error = WriteAtomically(FileDir(path) + "/history", history); !error.empty()) {
    return error;
  }
  *recorded = true;
  return "";
}

}  // namespace fleet::plugins::recovery
