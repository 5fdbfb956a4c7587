#include "core/modules/schedule/run_history.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "core/os/env.h"
#include "core/os/files.h"
#include "google/protobuf/util/json_util.h"

namespace fleet::modules {
namespace {

namespace ctl = ::fleet::control::v1;

std::string Line(const ctl::RunRecord& r) {
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(r, &json);
  return json + "\n";
}

}  // namespace

void RunHistory::Load(std::vector<std::string>* errors) {
  runs_.clear();
  lines_on_disk_ = 0;
  std::ifstream in(path_);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    ++lines_on_disk_;
    ctl::RunRecord r;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;  // Written by a newer fleetd.
    if (auto s = google::protobuf::util::JsonStringToMessage(line, &r, options); !s.ok()) {
      errors->push_back(absl::StrCat(path_, ":", number, ": ", s.ToString()));
      continue;
    }
    next_seq_ = std::max(next_seq_, r.seq() + 1);
    runs_.push_back(std::move(r));
    if (runs_.size() > keep_) runs_.pop_front();
  }
}

absl::Status RunHistory::Append(ctl::RunRecord record) {
  if (record.seq() == 0) record.set_seq(next_seq_);
  next_seq_ = std::max(next_seq_, record.seq() + 1);
  const std::string line = Line(record);
  runs_.push_back(std::move(record));
  if (runs_.size() > keep_) runs_.pop_front();
  if (behind_ || lines_on_disk_ + 1 >= 2 * keep_) return Compact();
  behind_ = true;  // Until the line is in.
  absl::Status made = os::MakeDirs(os::DirName(path_), 0700);
  if (!made.ok()) return made;
  int fd = os::CurrentEnv()->Open(path_.c_str(),
                                  O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", path_, ": ", strerror(errno)));
  // One write() of a line under PIPE_BUF-ish size: a crash leaves a whole
  // line or a cut one, which Load skips.
  const ssize_t n = os::CurrentEnv()->Write(fd, line.data(), line.size());
  const int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(line.size())) {
    return absl::InternalError(
        absl::StrCat("write ", path_, ": ", n < 0 ? strerror(err) : "short write"));
  }
  ++lines_on_disk_;
  behind_ = false;
  return absl::OkStatus();
}

absl::Status RunHistory::Flush() { return behind_ ? Compact() : absl::OkStatus(); }

absl::Status RunHistory::Compact() {
  std::string all;
  for (const ctl::RunRecord& r : runs_) all += Line(r);
  behind_ = true;  // Until the file is rewritten.
  absl::Status made = os::MakeDirs(os::DirName(path_), 0700);
  if (!made.ok()) return made;
  absl::Status written =
      os::WriteFileAtomic(path_, all, 0600, os::Durability::kSurvivesProcessCrash);
  if (written.ok()) {
    lines_on_disk_ = runs_.size();
    behind_ = false;
  }
  return written;
}

}  // namespace fleet::modules
