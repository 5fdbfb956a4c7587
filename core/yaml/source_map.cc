#include "core/yaml/source_map.h"

#include "absl/strings/str_cat.h"

namespace fleet::yaml {

std::string Location::ToString() const {
  if (line == 0) return file;
  return absl::StrCat(file, ":", line, ":", column);
}

void SourceMap::Record(const google::protobuf::Message* message, int field, int index,
                       Location where) {
  locations_[Key(message, field, index)] = std::move(where);
}

void SourceMap::RecordMessage(const google::protobuf::Message* message, Location where) {
  Record(message, 0, -1, std::move(where));
}

Location SourceMap::Find(const google::protobuf::Message* message, int field, int index) const {
  for (const Key& key : {Key(message, field, index), Key(message, field, -1), Key(message, 0, -1)}) {
    auto it = locations_.find(key);
    if (it != locations_.end()) return it->second;
  }
  return {};
}

}  // namespace fleet::yaml
