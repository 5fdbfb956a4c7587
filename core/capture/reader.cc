#include "core/capture/reader.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace fleet::capture {
namespace {

// A record's header is 37 bytes; a line of the file is split past this.
constexpr size_t kMaxRawLine = LogReader::kMaxLine + 64;
// Last() reads at most this much of a file from its end.
constexpr size_t kMaxTail = 32 << 20;

size_t Slot(Stream stream) { return static_cast<size_t>(stream); }

// Hands each line of data (the last one even without its newline) to the
// joiner, splitting lines longer than kMaxRawLine.
void AddLines(absl::string_view data, LineJoiner* joiner, std::vector<Line>* out) {
  while (!data.empty()) {
    const size_t newline = data.find('\n');
    const size_t end = newline == absl::string_view::npos ? data.size() : newline;
    if (end > kMaxRawLine) {
      joiner->Add(data.substr(0, kMaxRawLine), out);
      data.remove_prefix(kMaxRawLine);
      continue;
    }
    joiner->Add(data.substr(0, end), out);
    data.remove_prefix(std::min(data.size(), end + 1));
  }
}

// The last n lines of the file fd holds [0, end) of; *whole when they were
// looked for from its first byte.
std::vector<Line> TailOf(int fd, off_t end, size_t n, bool* whole) {
  size_t window = std::clamp<size_t>(n * 256, 64 << 10, kMaxTail);
  for (;;) {
    const off_t start = std::max<off_t>(0, end - static_cast<off_t>(window));
    std::string data(static_cast<size_t>(end - start), '\0');
    size_t have = 0;
    while (have < data.size()) {
      ssize_t got = ::pread(fd, data.data() + have, data.size() - have, start + have);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      have += static_cast<size_t>(got);
    }
    data.resize(have);
    absl::string_view view(data);
    if (start > 0) {  // Begins inside a line: from the next one.
      const size_t newline = view.find('\n');
      view.remove_prefix(newline == absl::string_view::npos ? view.size() : newline + 1);
    }
    LineJoiner joiner;
    std::vector<Line> lines;
    AddLines(view, &joiner, &lines);
    joiner.Flush(&lines);
    *whole = start == 0;
    if (lines.size() >= n || start == 0 || window >= kMaxTail) {
      if (lines.size() > n) lines.erase(lines.begin(), lines.end() - static_cast<ptrdiff_t>(n));
      return lines;
    }
    window = std::min(window * 4, kMaxTail);
  }
}

}  // namespace

void LineJoiner::Add(absl::string_view raw, std::vector<Line>* out) {
  const Record r = ParseRecord(raw);
  const bool known = r.time != absl::InfinitePast();
  if (known) last_time_ = r.time;
  Pending& p = pending_[Slot(r.stream)];
  if (p.waiting) {
    p.line.text.append(r.text.data(), r.text.size());
  } else {
    p.line = Line{known ? r.time : last_time_, known, r.stream, std::string(r.text)};
  }
  p.waiting = r.partial && p.line.text.size() < LogReader::kMaxLine;
  p.stale = false;
  if (!p.waiting) out->push_back(std::move(p.line));
}

void LineJoiner::Flush(std::vector<Line>* out) {
  for (Pending& p : pending_) {
    if (p.waiting) out->push_back(std::move(p.line));
    p = Pending();
  }
}

void LineJoiner::FlushStale(std::vector<Line>* out) {
  for (Pending& p : pending_) {
    if (!p.waiting) continue;
    if (p.stale) {
      out->push_back(std::move(p.line));
      p = Pending();
    } else {
      p.stale = true;
    }
  }
}

void LineJoiner::Reset() {
  for (Pending& p : pending_) p = Pending();
}

LogReader::LogReader(std::string path) : path_(std::move(path)) {}

LogReader::~LogReader() {
  if (fd_ >= 0) ::close(fd_);
}

int LogReader::OpenSafely(const std::string& path) {
  // O_NONBLOCK: a FIFO planted at the name is not waited on.
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ELOOP) {
      problem_ = absl::StrCat(path, " is a symlink; fleetd does not read through it");
    } else if (errno != ENOENT) {
      problem_ = absl::StrCat("open ", path, ": ", strerror(errno));
    }
    return -1;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    problem_ = absl::StrCat(path, " is not a regular file; fleetd does not read it");
    return -1;
  }
  if (path == path_) inode_ = st.st_ino;
  return fd;
}

std::vector<Line> LogReader::Last(size_t n) {
  if (fd_ >= 0) ::close(fd_);
  problem_.clear();
  carry_.clear();
  joiner_.Reset();
  offset_ = 0;
  fd_ = OpenSafely(path_);
  std::vector<Line> lines;
  bool whole = true;
  if (fd_ >= 0) {
    struct stat st;
    offset_ = ::fstat(fd_, &st) == 0 ? st.st_size : 0;
    if (n > 0) lines = TailOf(fd_, offset_, n, &whole);
  }
  if (n > lines.size() && whole) {
    const std::string problem = problem_;
    const int rotated = OpenSafely(absl::StrCat(path_, ".1"));
    problem_ = problem;  // The rotated copy is a bonus: its trouble is not the log's.
    if (rotated >= 0) {
      struct stat st;
      bool ignored;
      std::vector<Line> older =
          ::fstat(rotated, &st) == 0 ? TailOf(rotated, st.st_size, n - lines.size(), &ignored)
                                     : std::vector<Line>();
      ::close(rotated);
      older.insert(older.end(), std::make_move_iterator(lines.begin()),
                   std::make_move_iterator(lines.end()));
      lines = std::move(older);
    }
  }
  return lines;
}

bool LogReader::ReadMore(size_t budget, std::vector<Line>* out, size_t* used) {
  char buffer[65536];
  while (*used < budget) {
    ssize_t n = ::pread(fd_, buffer, std::min(sizeof(buffer), budget - *used), offset_);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    offset_ += n;
    *used += static_cast<size_t>(n);
    absl::string_view data(buffer, static_cast<size_t>(n));
    while (!data.empty()) {
      const size_t newline = data.find('\n');
      if (newline == absl::string_view::npos) {
        carry_.append(data.data(), data.size());
        if (carry_.size() >= kMaxRawLine) {
          AddLines(carry_, &joiner_, out);
          carry_.clear();
        }
        break;
      }
      if (carry_.empty()) {
        AddLines(data.substr(0, newline), &joiner_, out);
      } else {
        carry_.append(data.data(), newline);
        AddLines(carry_, &joiner_, out);
        carry_.clear();
      }
      data.remove_prefix(newline + 1);
    }
  }
  return true;
}

std::vector<Line> LogReader::Follow(size_t max_bytes) {
  std::vector<Line> out;
  if (fd_ < 0) {
    problem_.clear();
    fd_ = OpenSafely(path_);
    if (fd_ < 0) return out;
    offset_ = 0;
    carry_.clear();
  }
  size_t used = 0;
  // At most one switch to a new file per call (rotated again meanwhile: next call).
  for (int look = 0; look < 2; ++look) {
    if (ReadMore(max_bytes, &out, &used)) break;  // Budget spent: the rest next time.
    struct stat open_file, at_path;
    if (::fstat(fd_, &open_file) == 0 && open_file.st_size < offset_) {
      offset_ = 0;  // Truncated in place: what is there now is new.
      carry_.clear();
      continue;
    }
    if (::lstat(path_.c_str(), &at_path) == 0 && at_path.st_ino != inode_) {
      // Rotated: the old file is read to its end (above); the new one from its start.
      if (!carry_.empty()) AddLines(carry_, &joiner_, &out);
      carry_.clear();
      ::close(fd_);
      offset_ = 0;
      fd_ = OpenSafely(path_);
      if (fd_ < 0) break;
      continue;
    }
    break;
  }
  joiner_.FlushStale(&out);
  return out;
}

}  // namespace fleet::capture
