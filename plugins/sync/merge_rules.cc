#include "plugins/sync/merge_rules.h"

#include <fnmatch.h>

#include <map>
#include <sstream>

namespace fleet::plugins::sync {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

}  // namespace

std::optional<Strategy> ParseStrategy(const std::string& name) {
  if (name == "ours") return Strategy::kOurs;
  if (name == "theirs") return Strategy::kTheirs;
  if (name == "union") return Strategy::kUnion;
  if (name == "keep-both") return Strategy::kKeepBoth;
  if (name == "json" || name == "json-theirs") return Strategy::kJsonTheirs;
  if (name == "json-ours") return Strategy::kJsonOurs;
  return std::nullopt;
}

const char* StrategyName(Strategy strategy) {
  switch (strategy) {
    case Strategy::kOurs:
      return "ours";
    case Strategy::kTheirs:
      return "theirs";
    case Strategy::kUnion:
      return "union";
    case Strategy::kKeepBoth:
      return "keep-both";
    case Strategy::kJsonOurs:
      return "json-ours";
    case Strategy::kJsonTheirs:
      return "json-theirs";
  }
  return "ours";
}

const MergeRule* RuleFor(const std::vector<MergeRule>& rules, const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  for (const MergeRule& rule : rules) {
    if (fnmatch(rule.glob.c_str(), path.c_str(), 0) == 0) return &rule;
    if (rule.glob.find('/') == std::string::npos &&
        fnmatch(rule.glob.c_str(), base.c_str(), 0) == 0) {
      return &rule;
    }
  }
  return nullptr;
}

std::string UnionMerge(const std::string& base, const std::string& ours,
                       const std::string& theirs) {
  // Lines ours added: its lines minus base's, counted (a log may repeat lines).
  std::map<std::string, int> in_base;
  for (const std::string& line : Lines(base)) ++in_base[line];
  std::map<std::string, int> in_theirs;
  for (const std::string& line : Lines(theirs)) ++in_theirs[line];
  std::string out = theirs;
  if (!out.empty() && out.back() != '\n') out += '\n';
  for (const std::string& line : Lines(ours)) {
    if (in_base[line] > 0) {
      --in_base[line];
      continue;
    }
    if (in_theirs[line] > 0) {  // Both added the same line: keep it once.
      --in_theirs[line];
      continue;
    }
    out += line + '\n';
  }
  return out;
}

}  // namespace fleet::plugins::sync
