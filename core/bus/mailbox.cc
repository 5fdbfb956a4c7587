#include "core/bus/mailbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/os/env.h"
#include "core/bus/ids.h"
#include "core/bus/json_codec.h"
#include "core/os/files.h"
#include "google/protobuf/util/json_util.h"

namespace fleet::bus {
namespace {

namespace v1 = ::fleet::bus::v1;

absl::Status Errno(const std::string& what) { return absl::ErrnoToStatus(errno, what); }

void SyncDir(const std::string& dir) {
  int fd = os::CurrentEnv()->Open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd >= 0) {
    os::CurrentEnv()->Fsync(fd);
    ::close(fd);
  }
}

// Records are written by workers: a FIFO, a symlink or a huge file is
// refused, never waited on or followed.
absl::StatusOr<std::string> ReadBounded(const std::string& path) {
  return os::ReadUntrustedFile(path, kMaxRecordBytes);
}

}  // namespace

std::string RecordName(const std::string& run, const std::string& task, uint32_t attempt) {
  return absl::StrCat(run, "~", task, "~", attempt, ".json");
}

std::optional<RecordKey> ParseRecordName(const std::string& name) {
  if (name.size() < 6 || name.substr(name.size() - 5) != ".json") return std::nullopt;
  std::vector<std::string> parts = absl::StrSplit(name.substr(0, name.size() - 5), '~');
  RecordKey key;
  if (parts.size() != 3 || !IsValidId(parts[0]) || !IsValidId(parts[1]) ||
      !absl::SimpleAtoi(parts[2], &key.attempt) || key.attempt == 0) {
    return std::nullopt;
  }
  key.run = parts[0];
  key.task = parts[1];
  return key;
}

Mailbox::Mailbox(std::string dir, bool fsync) : dir_(std::move(dir)), fsync_(fsync) {}

absl::Status Mailbox::Init() const {
  for (const char* sub : {"tmp", "new", "cur", "results", "done", "quarantine", "runs"}) {
    absl::Status made = os::MakeDirs(os::JoinPath(dir_, sub), 0700);
    if (!made.ok()) return made;
  }
  return absl::OkStatus();
}

absl::Status Mailbox::WriteAndRename(const std::string& to, const std::string& content,
                                     bool sync_dir) const {
  static std::atomic<uint64_t> seq{0};
  const std::string tmp = os::JoinPath(dir_, absl::StrCat("tmp/", ::getpid(), ".", seq.fetch_add(1),
                                                          ".", to.substr(to.rfind('/') + 1)));
  int fd = os::CurrentEnv()->Open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Errno(absl::StrCat("create ", tmp));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = os::CurrentEnv()->Write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      absl::Status error = Errno(absl::StrCat("write ", tmp));
      ::close(fd);
      os::CurrentEnv()->Unlink(tmp.c_str());
      return error;
    }
    done += static_cast<size_t>(n);
  }
  if (fsync_ && os::CurrentEnv()->Fsync(fd) != 0) {
    absl::Status error = Errno(absl::StrCat("fsync ", tmp));
    ::close(fd);
    os::CurrentEnv()->Unlink(tmp.c_str());
    return error;
  }
  ::close(fd);
  if (os::CurrentEnv()->Rename(tmp.c_str(), to.c_str()) != 0) {
    absl::Status error = Errno(absl::StrCat("rename into ", to));
    os::CurrentEnv()->Unlink(tmp.c_str());
    return error;
  }
  if (fsync_ && sync_dir) SyncDir(os::DirName(to));
  return absl::OkStatus();
}

absl::Status Mailbox::Publish(const v1::TaskFile& task) const { return PublishAll({task})[0]; }

std::vector<absl::Status> Mailbox::PublishAll(const std::vector<v1::TaskFile>& tasks) const {
  std::vector<absl::Status> out;
  std::set<std::string> dirs;
  for (const v1::TaskFile& task : tasks) {
    const std::string dir = os::JoinPath(dir_, absl::StrCat("new/", task.capability()));
    absl::Status done = os::MakeDirs(dir, 0700);
    if (done.ok()) {
      done = WriteAndRename(os::JoinPath(dir, RecordName(task.run(), task.task(), task.attempt())),
                            ToJsonLine(task), /*sync_dir=*/false);
    }
    if (done.ok()) dirs.insert(dir);
    out.push_back(std::move(done));
  }
  // Each file was fsynced before its rename; each directory once, after all
  // of its renames, not once per file.
  if (fsync_) {
    for (const std::string& dir : dirs) SyncDir(dir);
  }
  return out;
}

absl::Status Mailbox::Withdraw(const std::string& capability, const std::string& name) const {
  const std::string path = os::JoinPath(dir_, absl::StrCat("new/", capability, "/", name));
  if (os::CurrentEnv()->Unlink(path.c_str()) != 0) return Errno(absl::StrCat("withdraw ", path));
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Claim>> Mailbox::ClaimNext(const std::string& capability,
                                                        const std::string& worker) const {
  if (!IsValidId(capability)) {
    return absl::InvalidArgumentError(
        absl::StrCat("capability '", capability, "' is not a valid name"));
  }
  if (!IsValidId(worker)) {
    return absl::InvalidArgumentError(absl::StrCat("worker '", worker, "' is not a valid name"));
  }
  const std::string offered = os::JoinPath(dir_, absl::StrCat("new/", capability));
  const std::string mine = os::JoinPath(dir_, absl::StrCat("cur/", worker));
  absl::Status made = os::MakeDirs(mine, 0700);
  if (!made.ok()) return made;
  // Streamed, not listed and sorted: the first task that can be taken is
  // taken, so a claim costs a few syscalls however long the queue is.
  DIR* d = ::opendir(offered.c_str());
  if (d == nullptr) return std::optional<Claim>();
  std::optional<Claim> taken;
  absl::Status failure;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name[0] == '.' || !ParseRecordName(name).has_value()) continue;
    const std::string to = os::JoinPath(mine, name);
    // rename(2) is atomic: of all the workers renaming this file, one wins.
    if (os::CurrentEnv()->Rename(os::JoinPath(offered, name).c_str(), to.c_str()) != 0) {
      if (errno == ENOENT) continue;  // Someone else was first.
      failure = Errno(absl::StrCat("claim ", name));
      break;
    }
    ::utimensat(AT_FDCWD, to.c_str(), nullptr, AT_SYMLINK_NOFOLLOW);  // The lease starts now.
    if (fsync_) SyncDir(mine);
    absl::StatusOr<std::string> text = ReadBounded(to);
    Claim claim;
    claim.path = to;
    if (!text.ok() || !FromJson(*text, &claim.task).ok()) {
      // Unreadable: not ours to run; the conductor sees the claim and re-offers.
      failure = absl::DataLossError(absl::StrCat("claimed ", name, " but it cannot be read"));
      break;
    }
    taken = std::move(claim);
    break;
  }
  ::closedir(d);
  if (!failure.ok()) return failure;
  if (taken.has_value()) return taken;
  return std::optional<Claim>();
}

absl::Status Mailbox::Heartbeat(const std::string& worker, const std::string& name) const {
  if (!IsValidId(worker) || !ParseRecordName(name).has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("no such claim: ", worker, "/", name));
  }
  const std::string path = os::JoinPath(dir_, absl::StrCat("cur/", worker, "/", name));
  if (::utimensat(AT_FDCWD, path.c_str(), nullptr, AT_SYMLINK_NOFOLLOW) != 0) {
    return Errno(absl::StrCat("renew the lease of ", path, " (was it re-queued?)"));
  }
  return absl::OkStatus();
}

absl::Status Mailbox::Complete(const v1::ResultFile& result) const {
  if (!IsValidId(result.run()) || !IsValidId(result.task()) || result.attempt() == 0) {
    return absl::InvalidArgumentError("a result needs a valid run, task and attempt");
  }
  return WriteAndRename(
      os::JoinPath(dir_, absl::StrCat("results/",
                                      RecordName(result.run(), result.task(), result.attempt()))),
      ToJsonLine(result));
}

std::vector<ReadResult> Mailbox::Results() const {
  std::vector<ReadResult> out;
  const std::string dir = os::JoinPath(dir_, "results");
  for (const std::string& name : os::ListDirectory(dir)) {
    ReadResult r;
    r.name = name;
    std::optional<RecordKey> key = ParseRecordName(name);
    if (!key.has_value()) {
      r.result = absl::InvalidArgumentError("its name is not RUN~TASK~ATTEMPT.json with valid ids");
      out.push_back(std::move(r));
      continue;
    }
    absl::StatusOr<std::string> text = ReadBounded(os::JoinPath(dir, name));
    if (!text.ok()) {
      r.result = text.status();
      out.push_back(std::move(r));
      continue;
    }
    v1::ResultFile result;
    if (absl::Status parsed = FromJson(*text, &result); !parsed.ok()) {
      r.result = absl::InvalidArgumentError(absl::StrCat("not a result: ", parsed.message()));
    } else if (result.run() != key->run || result.task() != key->task ||
               result.attempt() != key->attempt) {
      r.result = absl::InvalidArgumentError(absl::StrCat(
          "it says run ", result.run(), ", task ", result.task(), ", attempt ", result.attempt(),
          ", but its name says ", key->run, ", ", key->task, ", ", key->attempt));
    } else {
      r.result = std::move(result);
    }
    out.push_back(std::move(r));
  }
  return out;
}

absl::Status Mailbox::Absorb(const std::string& name) const { return AbsorbAll({name})[0]; }

std::vector<absl::Status> Mailbox::AbsorbAll(const std::vector<std::string>& names) const {
  std::vector<absl::Status> out;
  for (const std::string& name : names) {
    const std::string from = os::JoinPath(dir_, absl::StrCat("results/", name));
    const std::string to = os::JoinPath(dir_, absl::StrCat("done/", name));
    out.push_back(os::CurrentEnv()->Rename(from.c_str(), to.c_str()) == 0 ? absl::OkStatus()
                                                          : Errno(absl::StrCat("absorb ", name)));
  }
  if (fsync_ && !names.empty()) SyncDir(os::JoinPath(dir_, "done"));
  return out;
}

absl::Status Mailbox::Quarantine(const std::string& name, const std::string& why) const {
  // A name that is not a record name may hold '..' or '/': it is not used in
  // a path as is.
  const std::string safe = ParseRecordName(name).has_value()
                               ? name
                               : absl::StrCat("bad-", std::hash<std::string>{}(name), ".json");
  const std::string from = os::JoinPath(dir_, absl::StrCat("results/", name));
  const std::string to = os::JoinPath(dir_, absl::StrCat("quarantine/", safe));
  if (os::CurrentEnv()->Rename(from.c_str(), to.c_str()) != 0) return Errno(absl::StrCat("quarantine ", name));
  return os::WriteFileAtomic(to + ".why", absl::StrCat(name, ": ", why, "\n"), 0600,
                             os::Durability::kSurvivesProcessCrash);
}

std::vector<Mailbox::ClaimInfo> Mailbox::Claims() const {
  std::vector<ClaimInfo> out;
  const std::string cur = os::JoinPath(dir_, "cur");
  for (const std::string& worker : os::ListDirectory(cur)) {
    for (const std::string& name : os::ListDirectory(os::JoinPath(cur, worker))) {
      struct stat st;
      if (::lstat(os::JoinPath(cur, absl::StrCat(worker, "/", name)).c_str(), &st) != 0) continue;
      out.push_back(
          {worker, name,
           static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000});
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> Mailbox::Offered() const {
  std::vector<std::pair<std::string, std::string>> out;
  const std::string offered = os::JoinPath(dir_, "new");
  for (const std::string& capability : os::ListDirectory(offered)) {
    for (const std::string& name : os::ListDirectory(os::JoinPath(offered, capability))) {
      out.push_back({capability, name});
    }
  }
  return out;
}

void Mailbox::DropClaim(const std::string& worker, const std::string& name) const {
  os::CurrentEnv()->Unlink(os::JoinPath(dir_, absl::StrCat("cur/", worker, "/", name)).c_str());
}

}  // namespace fleet::bus
