// Where each config value came from (file:line:column), so that every error
// an operator sees points at the text they wrote.
#ifndef FLEET_CORE_YAML_SOURCE_MAP_H_
#define FLEET_CORE_YAML_SOURCE_MAP_H_

#include <string>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "google/protobuf/message.h"

namespace fleet::yaml {

struct Location {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based
  // "fleet.yaml:12:5", or just the file when the position is unknown.
  std::string ToString() const;
};

// Not thread-safe. Keys are message addresses, so the messages must not move
// (elements of a RepeatedPtrField keep their addresses).
class SourceMap {
 public:
  // index -1: the field itself (its key); >= 0: that element of a repeated field.
  void Record(const google::protobuf::Message* message, int field, int index, Location where);
  void RecordMessage(const google::protobuf::Message* message, Location where);

  // The most precise location known: the element, else the field, else the
  // message, else an empty Location.
  Location Find(const google::protobuf::Message* message, int field = 0, int index = -1) const;

 private:
  using Key = std::tuple<const google::protobuf::Message*, int, int>;
  absl::flat_hash_map<Key, Location> locations_;
};

}  // namespace fleet::yaml

#endif  // FLEET_CORE_YAML_SOURCE_MAP_H_
