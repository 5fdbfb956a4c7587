#include "core/supervisor/instance_records.h"

#include <dirent.h>
#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/os/files.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace fleet::supervisor {
namespace {

std::string Dir(const std::string& run_dir) { return os::JoinPath(run_dir, "instances"); }

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
  ::unlink(os::JoinPath(Dir(run_dir), Name(engine, index)).c_str());
}

std::vector<InstanceRecord> ReadInstanceRecords(const std::string& run_dir,
                                                std::vector<std::string>* errors) {
  std::vector<InstanceRecord> out;
  DIR* d = ::opendir(Dir(run_dir).c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == ".." || name.find(".tmp.") != std::string::npos) continue;
    const std::string path = os::JoinPath(Dir(run_dir), name);
    absl::StatusOr<std::string> text = os::ReadFile(path);
    std::vector<std::string> f =
        text.ok() ? absl::StrSplit(*text, absl::ByAnyChar(" \n"), absl::SkipEmpty())
                  : std::vector<std::string>();
    InstanceRecord r;
    int pid = 0;
    if (f.size() != 6 || !absl::SimpleAtoi(f[1], &r.index) || !absl::SimpleAtoi(f[2], &pid) ||
        !absl::SimpleAtoi(f[3], &r.start_time) || !absl::SimpleAtoi(f[4], &r.spec_hash) ||
        !absl::SimpleAtoi(f[5], &r.spawned_unix_ms) || pid <= 0 ||
        Name(f[0], r.index) != name) {
      errors->push_back(absl::StrCat(path, " is not an instance record; removed"));
      ::unlink(path.c_str());
      continue;
    }
    r.engine = f[0];
    r.pid = pid;
    out.push_back(r);
  }
  ::closedir(d);
  return out;
}

std::string OutputFifoPath(const std::string& run_dir, const std::string& engine, uint32_t index) {
  return os::JoinPath(os::JoinPath(run_dir, "pipes"), Name(engine, index));
}

}  // namespace fleet::supervisor
