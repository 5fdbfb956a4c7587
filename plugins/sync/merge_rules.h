// How a path that both sides changed is resolved, so that a state file never
// keeps conflict markers. Rules are (glob, strategy) pairs; the first match
// wins. "ours" is this instance's version, "theirs" what the others pushed.
#ifndef FLEET_PLUGINS_SYNC_MERGE_RULES_H_
#define FLEET_PLUGINS_SYNC_MERGE_RULES_H_

#include <optional>
#include <string>
#include <vector>

namespace fleet::plugins::sync {

enum class Strategy {
  kOurs,      // keep this instance's version
  kTheirs,    // keep the pushed version
  kUnion,     // line logs: the pushed lines, then the lines this instance added
  kKeepBoth,  // ours stays; theirs is saved beside it as PATH.theirs-<commit>
  kJsonOurs,    // JSON objects merged key by key; a key both changed: ours
  kJsonTheirs,  // ... a key both changed: theirs
};

struct MergeRule {
  // fnmatch(3) glob on the path from the work tree's root ("logs/*.txt"); a
  // glob without '/' also matches the base name anywhere ("*.log").
  std::string glob;
  Strategy strategy;
};

// "ours", "theirs", "union", "keep-both", "json" (= "json-theirs": the
// first published value wins), "json-ours"; nullopt for anything else.
std::optional<Strategy> ParseStrategy(const std::string& name);
// The name a strategy is written with ("json-theirs" for kJsonTheirs).
const char* StrategyName(Strategy strategy);

// The first rule matching path, or nullptr.
const MergeRule* RuleFor(const std::vector<MergeRule>& rules, const std::string& path);

// A three-way union of line logs: theirs, then every line ours added relative
// to base that theirs lacks (as git's merge=union, without markers). A missing
// final newline is supplied so lines never run together.
std::string UnionMerge(const std::string& base, const std::string& ours, const std::string& theirs);

}  // namespace fleet::plugins::sync

#endif  // FLEET_PLUGINS_SYNC_MERGE_RULES_H_
