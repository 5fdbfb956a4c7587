#include "core/bus/dag_file.h"

#include <limits.h>
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/yaml/source_map.h"
#include "core/yaml/yaml_to_proto.h"
#include "core/os/files.h"

namespace fleet::bus {
namespace {

namespace v1 = ::fleet::bus::v1;

constexpr size_t kMaxTasks = 10000;
constexpr size_t kMaxInput = 1024 * 1024;

// Why the file `rel` names is not inside `dir` (after symlinks), or "".
std::string OutsideOf(const std::string& dir, const std::string& rel) {
  if (!rel.empty() && rel[0] == '/') return "is an absolute path";
  char dir_real[PATH_MAX], file_real[PATH_MAX];
  if (::realpath(dir.c_str(), dir_real) == nullptr ||
      ::realpath(os::JoinPath(dir, rel).c_str(), file_real) == nullptr) {
    return "";  // Missing: the read says so.
  }
  const std::string inside = absl::StrCat(dir_real, dir_real[1] == '\0' ? "" : "/");
  if (absl::StartsWith(file_real, inside)) return "";
  return absl::StrCat("resolves to ", file_real, ", outside ", dir_real);
}

std::string Stem(const std::string& name) {
  const size_t slash = name.rfind('/');
  std::string base = slash == std::string::npos ? name : name.substr(slash + 1);
  const size_t dot = base.rfind('.');
  return dot == std::string::npos || dot == 0 ? base : base.substr(0, dot);
}

class Checker {
 public:
  Checker(const yaml::SourceMap* map, std::vector<std::string>* errors)
      : map_(map), errors_(errors) {}

  void Error(const google::protobuf::Message* m, int field, const std::string& text,
             int index = -1) {
    errors_->push_back(absl::StrCat(map_->Find(m, field, index).ToString(), ": ", text));
  }

  void Check(v1::Dag* dag, const std::string& base_dir) {
    if (dag->tasks().empty()) {
      errors_->push_back(absl::StrCat(map_->Find(dag).ToString(), ": the DAG has no tasks"));
      return;
    }
    if (static_cast<size_t>(dag->tasks_size()) > kMaxTasks) {
      Error(dag, v1::Dag::kTasksFieldNumber, absl::StrCat("more than ", kMaxTasks, " tasks"));
      return;
    }
    if (!dag->name().empty() && !IsValidId(dag->name())) {
      Error(dag, v1::Dag::kNameFieldNumber, IdRule("name", dag->name()));
    }
    std::map<std::string, const v1::Task*> by_id;
    for (v1::Task& t : *dag->mutable_tasks()) {
      if (t.id().empty()) {
        Error(&t, 0, "a task needs an id");
        continue;
      }
      if (!IsValidId(t.id())) {
        Error(&t, v1::Task::kIdFieldNumber, IdRule("id", t.id()));
        continue;
      }
      auto [it, added] = by_id.emplace(t.id(), &t);
      if (!added) {
        Error(&t, v1::Task::kIdFieldNumber,
              absl::StrCat("task '", t.id(), "' is declared twice (first at ",
                           map_->Find(it->second, v1::Task::kIdFieldNumber).ToString(), ")"));
      }
      if (t.capability().empty()) {
        Error(&t, v1::Task::kIdFieldNumber,
              absl::StrCat("task '", t.id(), "' needs a capability (what kind of worker does it)"));
      } else if (!IsValidId(t.capability())) {
        Error(&t, v1::Task::kCapabilityFieldNumber, IdRule("capability", t.capability()));
      }
      CompleteTask(&t, base_dir);
    }
    for (const v1::Task& t : dag->tasks()) {
      for (int i = 0; i < t.needs_size(); ++i) {
        if (t.needs(i) == t.id()) {
          Error(&t, v1::Task::kNeedsFieldNumber, absl::StrCat("task '", t.id(), "' needs itself"),
                i);
        } else if (!by_id.count(t.needs(i))) {
          Error(&t, v1::Task::kNeedsFieldNumber,
                absl::StrCat("needs names '", t.needs(i), "', which is not a task of this DAG"), i);
        }
      }
    }
    if (errors_->empty()) FindCycle(*dag, by_id);
  }

 private:
  static std::string IdRule(const std::string& what, const std::string& value) {
    return absl::StrCat(what, " '", value, "' must be 1 to ", kMaxId,
                        " of [A-Za-z0-9._-], without '..'");
  }

  void CompleteTask(v1::Task* t, const std::string& base_dir) {
    if (t->trigger_rule() == v1::TRIGGER_RULE_UNSPECIFIED) {
      t->set_trigger_rule(v1::TRIGGER_RULE_ALL_SUCCESS);
    }
    if (!t->has_timeout()) t->mutable_timeout()->set_seconds(600);
    if (!t->has_retry_delay()) t->mutable_retry_delay()->set_seconds(10);
    if (t->retries() > 100) Error(t, v1::Task::kRetriesFieldNumber, "retries must be at most 100");
    if (t->timeout().seconds() < 0 || t->retry_delay().seconds() < 0) {
      Error(t, v1::Task::kTimeoutFieldNumber, "durations must not be negative");
    }
    if (!t->input().empty() && !t->input_file().empty()) {
      Error(t, v1::Task::kInputFileFieldNumber, "give input or input_file, not both");
      return;
    }
    if (t->input_file().empty()) return;
    // fleetd reads the file, perhaps as root, into a task every worker of
    // the capability sees: only a file beside the DAG (or below it) is
    // taken, never an absolute path, a climb out, or a symlink out of it.
    const std::string path = os::JoinPath(base_dir, t->input_file());
    if (std::string outside = OutsideOf(base_dir, t->input_file()); !outside.empty()) {
      Error(t, v1::Task::kInputFileFieldNumber,
            absl::StrCat("input_file ", t->input_file(), " ", outside,
                         ": it must be a file in the DAG's directory or below it"));
      return;
    }
    absl::StatusOr<std::string> text = os::ReadUntrustedFile(path, kMaxInput);
    if (absl::IsResourceExhausted(text.status())) {
      Error(t, v1::Task::kInputFileFieldNumber,
            absl::StrCat("input_file ", path, " is over 1MB; pass a path in the input instead"));
    } else if (!text.ok()) {
      Error(t, v1::Task::kInputFileFieldNumber,
            absl::StrCat("input_file ", path, " cannot be read: ", text.status().message()));
    } else {
      t->set_input(*text);
    }
  }

  // Depth-first; the first cycle found is reported with its path.
  void FindCycle(const v1::Dag& dag, const std::map<std::string, const v1::Task*>& by_id) {
    std::map<std::string, int> state;  // 1: on the path, 2: done
    std::vector<std::string> path;
    std::function<bool(const std::string&)> visit = [&](const std::string& id) {
      state[id] = 1;
      path.push_back(id);
      for (const std::string& need : by_id.at(id)->needs()) {
        if (state[need] == 1) {
          auto from = std::find(path.begin(), path.end(), need);
          std::vector<std::string> loop(from, path.end());
          loop.push_back(need);
          Error(by_id.at(id), v1::Task::kNeedsFieldNumber,
                absl::StrCat("needs makes a cycle: ", absl::StrJoin(loop, " -> ")));
          return true;
        }
        if (state[need] == 0 && visit(need)) return true;
      }
      path.pop_back();
      state[id] = 2;
      return false;
    };
    for (const v1::Task& t : dag.tasks()) {
      if (state[t.id()] == 0 && visit(t.id())) return;
    }
  }

  const yaml::SourceMap* map_;
  std::vector<std::string>* errors_;
};

}  // namespace

absl::StatusOr<v1::Dag> LoadDagFromString(const std::string& text, const std::string& name,
                                          const std::string& base_dir) {
  absl::StatusOr<YAML::Node> node = yaml::ParseYamlString(text, name);
  if (!node.ok()) return node.status();
  if (!node->IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": a DAG file is a mapping with name and tasks"));
  }
  v1::Dag dag;
  yaml::SourceMap map;
  std::vector<std::string> errors;
  yaml::YamlToProto(name, &map, &errors).Convert(*node, &dag);
  if (errors.empty()) Checker(&map, &errors).Check(&dag, base_dir);
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  if (dag.name().empty()) dag.set_name(Stem(name));
  return dag;
}

absl::StatusOr<v1::Dag> LoadDagFile(const std::string& path) {
  absl::StatusOr<std::string> text = os::ReadFileBounded(path, yaml::kMaxYamlFileBytes);
  if (!text.ok()) return text.status();
  return LoadDagFromString(*text, path, os::DirName(path));
}

}  // namespace fleet::bus
