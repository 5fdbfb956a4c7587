#include "core/supervisor/instance_records.h"

#include <unistd.h>

#include <map>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/os/env.h"
#include "core/os/files.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace fleet::supervisor {
namespace {

std::string Dir(const std::string& run_dir) { return os::JoinPath(run_dir, "instances"); }

// A record is one short line; anything longer is not one (a worker cannot
// write here, but a bounded read costs nothing).
constexpr size_t kMaxRecordBytes = 4096;

std::string Name(const std::string& engine, uint32_t index) {
  return absl::StrCat(engine, ".", index);
}

}  // namespace

uint64_t StableHash(absl::string_view bytes) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a: stable across runs and builds.
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t SpecHash(const fleet::config::v1::Engine& spec) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);  // Maps (env) in key order.
    spec.SerializeToCodedStream(&coded);
  }
  return StableHash(bytes);
}

absl::Status WriteInstanceRecord(const std::string& run_dir, const InstanceRecord& r) {
  absl::Status made = os::MakeDirs(Dir(run_dir), 0700);
  if (!made.ok()) return made;
  return os::WriteFileAtomic(os::JoinPath(Dir(run_dir), Name(r.engine, r.index)),
                             absl::StrCat(r.engine, " ", r.index, " ", r.pid, " ", r.start_time,
                                          " ", r.spec_hash, " ", r.spawned_unix_ms, "\n"),
                             0600, os::Durability::kSurvivesProcessCrash);
}

void RemoveInstanceRecord(const std::string& run_dir, const std::string& engine, uint32_t index) {
  os::CurrentEnv()->Unlink(os::JoinPath(Dir(run_dir), Name(engine, index)).c_str());
}

namespace {

// A record's text, or nullopt when it is not one for `name` (ENGINE.N).
std::optional<InstanceRecord> ParseRecord(absl::string_view text, absl::string_view name) {
  std::vector<std::string> f = absl::StrSplit(text, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  InstanceRecord r;
  int pid = 0;
  if (f.size() != 6 || !absl::SimpleAtoi(f[1], &r.index) || !absl::SimpleAtoi(f[2], &pid) ||
      !absl::SimpleAtoi(f[3], &r.start_time) || !absl::SimpleAtoi(f[4], &r.spec_hash) ||
      !absl::SimpleAtoi(f[5], &r.spawned_unix_ms) || pid <= 0 || Name(f[0], r.index) != name) {
    return std::nullopt;
  }
  r.engine = f[0];
  r.pid = pid;
  return r;
}

}  // namespace

std::vector<InstanceRecord> ReadInstanceRecords(const std::string& run_dir,
                                                std::vector<std::string>* errors) {
  // ENGINE.N -> the newest record of it. A fleetd killed between writing a
  // record's temporary file and renaming it leaves the only word of a live
  // process in ENGINE.N.tmp.PID: a complete one counts (its spawn time
  // decides against the renamed record), a torn one is just removed.
  std::map<std::string, InstanceRecord> newest;
  const std::string dir = Dir(run_dir);
  for (const std::string& file : os::ListDirectory(dir)) {
    const std::string path = os::JoinPath(dir, file);
    const size_t tmp = file.find(".tmp.");
    const std::string name = file.substr(0, tmp);
    absl::StatusOr<std::string> text = os::ReadUntrustedFile(path, kMaxRecordBytes);
    std::optional<InstanceRecord> r =
        text.ok() ? ParseRecord(*text, name) : std::optional<InstanceRecord>();
    if (tmp != std::string::npos) {
      os::CurrentEnv()->Unlink(path.c_str());  // Rewritten under its own name when adopted.
    } else if (!r.has_value()) {
      errors->push_back(absl::StrCat(path, " is not an instance record; removed"));
      os::CurrentEnv()->Unlink(path.c_str());
    }
    if (!r.has_value()) continue;
    r->from_temporary_file = tmp != std::string::npos;
    auto [it, inserted] = newest.emplace(name, *r);
    if (!inserted && r->spawned_unix_ms > it->second.spawned_unix_ms) it->second = *r;
  }
  std::vector<InstanceRecord> out;
  out.reserve(newest.size());
  for (auto& [name, r] : newest) out.push_back(std::move(r));
  return out;
}

std::string OutputFifoPath(const std::string& run_dir, const std::string& engine, uint32_t index) {
  return os::JoinPath(os::JoinPath(run_dir, "pipes"), Name(engine, index));
}

namespace {
constexpr absl::Duration kRecordRetryEvery = absl::Seconds(1);
}  // namespace

bool RecordKeeper::Write(const std::string& id, const InstanceRecord& record, os::MonoTime now) {
  absl::Status written = WriteInstanceRecord(run_dir_, record);
  if (written.ok()) return true;
  if (!retry_due_.has_value()) retry_due_ = now + kRecordRetryEvery;
  if (!failing_) {
    failing_ = true;
    emit_(id, "record_failed",
          absl::StrCat("cannot record pid ", record.pid, " for a fleetd restart to take it back: ",
                       written.message(), "; retrying every second"));
  }
  return false;
}

void RecordKeeper::Record(const std::string& id, const InstanceRecord& record, os::MonoTime now) {
  if (Write(id, record, now)) {
    pending_.erase(id);
  } else {
    pending_[id] = record;
  }
}

void RecordKeeper::Remove(const std::string& id, const std::string& engine, uint32_t index) {
  pending_.erase(id);
  RemoveInstanceRecord(run_dir_, engine, index);
}

void RecordKeeper::Retry(os::MonoTime now) {
  if (!retry_due_.has_value() || *retry_due_ > now) return;
  retry_due_.reset();
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (Write(it->first, it->second, now)) {
      pending_.erase(it++);
    } else {
      ++it;
    }
  }
  if (pending_.empty() && failing_) {
    failing_ = false;
    emit_("fleetd", "records_resumed", "every running instance's pid is recorded again");
  }
}

}  // namespace fleet::supervisor
