#include "plugins/sync/state_file_check.h"

#include <yaml-cpp/yaml.h>

#include <set>

#include "plugins/sync/json_merge.h"

namespace fleet::plugins::sync {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A key given twice in one mapping: YAML forbids it, yaml-cpp accepts it
// (and a line-level union of two edits of one key produces exactly that).
std::string DuplicateKey(const YAML::Node& node) {
  if (node.IsMap()) {
    std::set<std::string> seen;
    for (const auto& entry : node) {
      if (entry.first.IsScalar() && !seen.insert(entry.first.Scalar()).second) {
        return "key '" + entry.first.Scalar() + "' appears twice (line " +
               std::to_string(entry.first.Mark().line + 1) + ")";
      }
      if (std::string dup = DuplicateKey(entry.second); !dup.empty()) return dup;
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) {
      if (std::string dup = DuplicateKey(item); !dup.empty()) return dup;
    }
  }
  return "";
}

}  // namespace

std::string StateFileError(const std::string& path, const std::string& content) {
  if (EndsWith(path, ".json")) {
    std::string error;
    if (!ParseJson(content, &error)) return "not valid JSON (" + error + ")";
    return "";
  }
  if (EndsWith(path, ".yaml") || EndsWith(path, ".yml")) {
    // yaml-cpp reports by exception; it never leaves this function.
    try {
      for (const YAML::Node& doc : YAML::LoadAll(content)) {
        if (std::string dup = DuplicateKey(doc); !dup.empty()) return "not valid YAML (" + dup + ")";
      }
    } catch (const YAML::Exception& e) {
      return "not valid YAML (line " + std::to_string(e.mark.line + 1) + ", column " +
             std::to_string(e.mark.column + 1) + ": " + e.msg + ")";
    }
  }
  return "";
}

}  // namespace fleet::plugins::sync
