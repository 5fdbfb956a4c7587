#include "plugins/formats/state_file_check.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <functional>
#include <set>
#include <sstream>

#include "plugins/formats/json_merge.h"

namespace fleet::plugins::formats {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A key given twice in one mapping: YAML forbids it, yaml-cpp accepts it
// (and a line-level union of two edits of one key produces exactly that).
// *budget counts the nodes still allowed: aliases let 700 bytes stand for
// billions of nodes (which yaml-cpp loads instantly, as shared nodes, and
// a walk then visits one by one), so the walk stops when it runs out.
std::string DuplicateKey(const YAML::Node& node, size_t* budget) {
  if (*budget == 0) return "";
  --*budget;
  if (node.IsMap()) {
    std::set<std::string> seen;
    for (const auto& entry : node) {
      if (entry.first.IsScalar() && !seen.insert(entry.first.Scalar()).second) {
        return "key '" + entry.first.Scalar() + "' appears twice (line " +
               std::to_string(entry.first.Mark().line + 1) + ")";
      }
      if (std::string dup = DuplicateKey(entry.second, budget); !dup.empty()) return dup;
      if (*budget == 0) return "";
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) {
      if (std::string dup = DuplicateKey(item, budget); !dup.empty()) return dup;
      if (*budget == 0) return "";
    }
  }
  return "";
}

// yaml-cpp 0.7's LoadAll never returns on some malformed input (a document
// that is just ",": every pass yields another empty document, and memory
// grows; jbeder/yaml-cpp#1040, fixed after 0.7). A first pass with an event
// counter stops where a document makes more events than it has bytes, which
// well-formed YAML never does; the loading pass then sees the same events.
class EventBudget : public YAML::EventHandler {
 public:
  explicit EventBudget(size_t budget) : left_(budget) {}
  void OnDocumentStart(const YAML::Mark&) override { Spend(); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override { Spend(); }
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override { Spend(); }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Spend();
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Spend();
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Spend();
  }
  void OnMapEnd() override {}

 private:
  void Spend() {
    if (left_-- == 0) throw YAML::Exception(YAML::Mark::null_mark(), "the parser does not end");
  }
  size_t left_;
};

// True when yaml-cpp's parse of content ends (it may still be invalid).
bool ParseEnds(const std::string& content) {
  std::istringstream in(content);
  YAML::Parser parser(in);
  EventBudget budget(2 * content.size() + 16);
  try {
    while (parser.HandleNextDocument(budget)) {
    }
  } catch (const YAML::Exception& e) {
    return e.msg != "the parser does not end";
  }
  return true;
}

std::string MissingKey(const std::vector<std::string>& required,
                       const std::function<bool(const std::string&)>& has) {
  for (const std::string& key : required) {
    if (!has(key)) return "required key '" + key + "' is missing";
  }
  return "";
}

}  // namespace

std::string FormatOf(const std::string& path, const std::string& format) {
  if (!format.empty()) return format;
  if (EndsWith(path, ".json")) return "json";
  if (EndsWith(path, ".yaml") || EndsWith(path, ".yml")) return "yaml";
  return "text";
}

std::string CheckStateFile(const std::string& path, const std::string& content,
                           const std::string& format,
                           const std::vector<std::string>& required_keys) {
  const std::string kind = FormatOf(path, format);
  if (kind == "json") {
    std::string error;
    std::optional<Json> json = ParseJson(content, &error);
    if (!json.has_value()) return "not valid JSON (" + error + ")";
    if (required_keys.empty()) return "";
    if (json->type != Json::kObject) return "not a JSON object, so it has no required keys";
    return MissingKey(required_keys, [&](const std::string& k) { return json->Find(k) != nullptr; });
  }
  if (kind == "yaml") {
    // yaml-cpp reports by exception; it never leaves this function.
    if (!ParseEnds(content)) return "not valid YAML (its parse does not end)";
    try {
      std::vector<YAML::Node> docs = YAML::LoadAll(content);
      // Without aliases a document has fewer nodes than bytes; a little
      // slack for tiny files.
      const size_t allowed = content.size() + 1024;
      size_t budget = allowed;
      for (const YAML::Node& doc : docs) {
        if (std::string dup = DuplicateKey(doc, &budget); !dup.empty()) {
          return "not valid YAML (" + dup + ")";
        }
        if (budget == 0) {
          return "not accepted as state: its aliases expand it past " + std::to_string(allowed) +
                 " values (an alias bomb?)";
        }
      }
      if (required_keys.empty()) return "";
      if (docs.empty() || !docs[0].IsMap()) return "not a YAML mapping, so it has no required keys";
      return MissingKey(required_keys,
                        [&](const std::string& k) { return static_cast<bool>(docs[0][k]); });
    } catch (const YAML::Exception& e) {
      return "not valid YAML (line " + std::to_string(e.mark.line + 1) + ", column " +
             std::to_string(e.mark.column + 1) + ": " + e.msg + ")";
    }
  }
  return "";
}

}  // namespace fleet::plugins::formats
