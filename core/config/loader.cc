#include "core/config/loader.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/yaml/source_map.h"
#include "core/config/validate.h"
#include "core/yaml/yaml_to_proto.h"
#include "core/os/files.h"

namespace fleet::config {
namespace {

namespace v1 = ::fleet::config::v1;

constexpr size_t kMaxErrors = 30;
constexpr char kFleetFile[] = "fleet.yaml";

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// *.yaml and *.yml in dir, sorted, without skip; hidden files are ignored.
absl::StatusOr<std::vector<std::string>> YamlFilesIn(const std::string& dir,
                                                     const std::string& skip) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return absl::ErrnoToStatus(errno, absl::StrCat("read directory ", dir));
  std::vector<std::string> files;
  while (dirent* entry = ::readdir(d)) {
    std::string name = entry->d_name;
    if (name.empty() || name[0] == '.' || name == skip) continue;
    if (absl::EndsWith(name, ".yaml") || absl::EndsWith(name, ".yml")) {
      files.push_back(os::JoinPath(dir, name));
    }
  }
  ::closedir(d);
  std::sort(files.begin(), files.end());
  return files;
}

class Loader {
 public:
  explicit Loader(LoadedConfig* out) : out_(out) {}

  void FleetFile(const absl::StatusOr<YAML::Node>& node, const std::string& name) {
    out_->files.push_back(name);
    if (!node.ok()) {
      errors_.push_back(std::string(node.status().message()));
      unreadable_ = true;
      return;
    }
    if (node->IsNull()) {
      errors_.push_back(absl::StrCat(name, ": the file is empty; a fleet file names its engines "
                                           "(`fleetctl init` writes a commented example)"));
      return;
    }
    yaml::YamlToProto(name, &map_, &errors_).Convert(*node, &out_->config);
  }

  void EngineFile(const std::string& path) {
    out_->files.push_back(path);
    absl::StatusOr<YAML::Node> node = yaml::ParseYamlFile(path);
    if (!node.ok()) {
      errors_.push_back(std::string(node.status().message()));
      unreadable_ = true;
      return;
    }
    if (node->IsNull()) {
      errors_.push_back(absl::StrCat(path, ": empty engine file"));
      return;
    }
    yaml::YamlToProto(path, &map_, &errors_).Convert(*node, out_->config.add_engines());
  }

  void EngineDir(const std::string& dir, const std::string& skip, const yaml::Location& where) {
    absl::StatusOr<std::vector<std::string>> files = YamlFilesIn(dir, skip);
    if (!files.ok()) {
      errors_.push_back(absl::StrCat(where.ToString(), ": ", files.status().message()));
      return;
    }
    for (const std::string& file : *files) EngineFile(file);
  }

  void EngineDirsOf(const std::string& base_dir) {
    const v1::FleetConfig& c = out_->config;
    for (int i = 0; i < c.engine_dirs_size(); ++i) {
      EngineDir(os::JoinPath(base_dir, os::ExpandHome(c.engine_dirs(i))), "",
                map_.Find(&c, v1::FleetConfig::kEngineDirsFieldNumber, i));
    }
  }

  absl::Status Finish(const std::string& base_dir, const std::string& default_name,
                      const std::string& run_dir_override = "") {
    // Before validation: every default derived from the run dir (state work
    // trees, recovery's snapshot and quarantine dirs) follows the override.
    if (!run_dir_override.empty()) out_->config.set_run_dir(run_dir_override);
    // Semantic checks run even after conversion errors (a value of the
    // wrong type), so one run reports every mistake the operator can fix at
    // once (up to the cap); not after a file that did not parse at all.
    if (!unreadable_) ValidateAndComplete(base_dir, map_, &out_->config, &errors_, &out_->warnings);
    if (out_->config.name().empty()) out_->config.set_name(default_name);
    if (errors_.empty()) {
      RecordEngineKeys();
      return absl::OkStatus();
    }
    size_t shown = std::min(errors_.size(), kMaxErrors);
    std::string text = absl::StrJoin(errors_.begin(), errors_.begin() + shown, "\n");
    if (errors_.size() > shown) {
      absl::StrAppend(&text, "\n... and ", errors_.size() - shown, " more errors");
    }
    return absl::InvalidArgumentError(text);
  }

 private:
  // Where each engine's keys are, for messages about a key (export).
  void RecordEngineKeys() {
    for (const v1::Engine& e : out_->config.engines()) {
      std::map<int, std::string>& keys = out_->engine_keys.emplace_back();
      const std::string engine = map_.Find(&e).ToString();
      if (!engine.empty()) keys[0] = engine;
      std::vector<const google::protobuf::FieldDescriptor*> fields;
      e.GetReflection()->ListFields(e, &fields);
      for (const google::protobuf::FieldDescriptor* f : fields) {
        const std::string where = map_.Find(&e, f->number()).ToString();
        if (!where.empty() && where != engine) keys[f->number()] = where;
      }
    }
  }

  LoadedConfig* out_;
  yaml::SourceMap map_;
  std::vector<std::string> errors_;
  bool unreadable_ = false;  // A file was not YAML at all.
};

std::string BaseName(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  std::string name = path.substr(path.rfind('/') + 1);
  for (const char* ext : {".yaml", ".yml"}) {
    if (absl::EndsWith(name, ext)) name.resize(name.size() - strlen(ext));
  }
  return name;
}

absl::StatusOr<LoadedConfig> LoadConfigUnguarded(const std::string& given,
                                                 const std::string& run_dir_override) {
  LoadedConfig out;
  out.path = os::AbsolutePath(given);
  struct stat st;
  if (::stat(out.path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat(given, ": no such file or directory"));
  }
  Loader loader(&out);
  std::string base_dir;
  if (S_ISDIR(st.st_mode)) {
    base_dir = out.path;
    std::string fleet_file = os::JoinPath(base_dir, kFleetFile);
    if (::access(fleet_file.c_str(), F_OK) == 0) {
      loader.FleetFile(yaml::ParseYamlFile(fleet_file), fleet_file);
    }
    loader.EngineDir(base_dir, kFleetFile, {base_dir, 0, 0});
  } else {
    base_dir = os::DirName(out.path);
    loader.FleetFile(yaml::ParseYamlFile(out.path), out.path);
  }
  loader.EngineDirsOf(base_dir);
  absl::Status status = loader.Finish(base_dir, BaseName(out.path), run_dir_override);
  if (!status.ok()) return status;
  return out;
}

}  // namespace

std::string LoadedConfig::KeyWhere(int engine, int field) const {
  if (engine < 0 || static_cast<size_t>(engine) >= engine_keys.size()) return path;
  const std::map<int, std::string>& keys = engine_keys[engine];
  auto it = keys.find(field);
  if (it == keys.end()) it = keys.find(0);
  return it == keys.end() ? path : it->second;
}

absl::StatusOr<LoadedConfig> LoadConfig(const std::string& given,
                                        const std::string& run_dir_override) {
  // A config too big for the memory fleetd may use is refused like a bad
  // one: a reload then changes nothing, and fleetd keeps running.
  try {
    return LoadConfigUnguarded(given, run_dir_override.empty()
                                          ? run_dir_override
                                          : os::AbsolutePath(run_dir_override));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat(given, ": not enough memory to load it; nothing was changed"));
  }
}

absl::StatusOr<LoadedConfig> LoadConfigFromString(const std::string& yaml,
                                                  const std::string& name,
                                                  const std::string& base_dir) {
  LoadedConfig out;
  out.path = name;
  Loader loader(&out);
  loader.FleetFile(yaml::ParseYamlString(yaml, name), name);
  absl::Status status = loader.Finish(base_dir, BaseName(name));
  if (!status.ok()) return status;
  return out;
}

}  // namespace fleet::config
