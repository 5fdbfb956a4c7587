// A small JSON value, parser and writer (std only: plugins link
// protobuf-lite, which has no JSON), and a three-way merge of objects key by
// key for state files.
#ifndef FLEET_PLUGINS_FORMATS_JSON_MERGE_H_
#define FLEET_PLUGINS_FORMATS_JSON_MERGE_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace fleet::plugins::formats {

struct Json {
  enum Type { kNull, kBool, kNumber, kString, kArray, kObject } type = kNull;
  bool boolean = false;
  std::string text;  // a number as written, or a string's value
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;  // in document order

  const Json* Find(const std::string& key) const;
  bool operator==(const Json& other) const;
  bool operator!=(const Json& other) const { return !(*this == other); }
};

// nullopt (and *error "line L column C: ...") for anything but one JSON value.
// Nesting is limited (256) and so is size (8 MB).
std::optional<Json> ParseJson(const std::string& text, std::string* error);
// Two-space indented, members in order, a final newline.
std::string WriteJson(const Json& value);

// Three-way merge: what only one side changed is taken; a key both changed
// differently is merged again if both are objects, else `ours_wins` decides.
// base may be null (both sides added the file).
Json MergeJson(const Json* base, const Json& ours, const Json& theirs, bool ours_wins);

}  // namespace fleet::plugins::formats

#endif  // FLEET_PLUGINS_FORMATS_JSON_MERGE_H_
