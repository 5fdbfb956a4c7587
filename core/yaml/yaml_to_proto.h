// Generic YAML -> protobuf conversion by reflection: a YAML key is a field
// name, and every value is checked against the field's type. Errors name
// file:line:column and what was expected; unknown keys get a "did you mean".
// The only place yaml-cpp exceptions are caught.
#ifndef FLEET_CORE_YAML_YAML_TO_PROTO_H_
#define FLEET_CORE_YAML_YAML_TO_PROTO_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/yaml/source_map.h"
#include "google/protobuf/message.h"
#include "yaml-cpp/yaml.h"

namespace fleet::yaml {

// The largest YAML file read (a fleet file, an engine file, a DAG): 16 MiB.
inline constexpr size_t kMaxYamlFileBytes = 16u << 20;

// Parses a YAML file. Syntax errors (and over-deep nesting) are
// kInvalidArgument with "file:line:col: ..."; a file over kMaxYamlFileBytes,
// or a FIFO or device in its place, is refused before parsing.
absl::StatusOr<YAML::Node> ParseYamlFile(const std::string& path);
absl::StatusOr<YAML::Node> ParseYamlString(const std::string& text, const std::string& name);

// Not thread-safe; one per file.
class YamlToProto {
 public:
  // `errors` collects one "file:line:col: message" line per problem.
  YamlToProto(std::string file, SourceMap* map, std::vector<std::string>* errors)
      : file_(std::move(file)), map_(map), errors_(errors) {}

  // Fills message from a YAML mapping. Keys already set are overwritten.
  void Convert(const YAML::Node& node, google::protobuf::Message* message);

  Location Where(const YAML::Node& node) const;

 private:
  void ConvertField(const YAML::Node& key, const YAML::Node& value,
                    google::protobuf::Message* message,
                    const google::protobuf::FieldDescriptor* field);
  void ConvertMap(const YAML::Node& value, google::protobuf::Message* message,
                  const google::protobuf::FieldDescriptor* field);
  // Sets (or adds, for repeated fields) one scalar or message value.
  void SetValue(const YAML::Node& value, google::protobuf::Message* message,
                const google::protobuf::FieldDescriptor* field);
  void ConvertStruct(const YAML::Node& node, google::protobuf::Message* message);
  void ConvertValue(const YAML::Node& node, google::protobuf::Message* value);
  void Error(const YAML::Node& node, const std::string& message);
  bool Budget(const YAML::Node& node);
  // text (of node) is valid UTF-8; an error at node otherwise.
  bool ValidText(const YAML::Node& node, const std::string& text);

  std::string file_;
  SourceMap* map_;
  std::vector<std::string>* errors_;
  // Nodes visited: YAML aliases can make a tiny file a huge tree.
  int nodes_ = 0;
  bool over_budget_ = false;
};

// The closest of `candidates` to `word`, or "" if none is close.
std::string ClosestMatch(const std::string& word, const std::vector<std::string>& candidates);

// "10MB", "512KiB", "1G", "4096" -> bytes (K, KB and KiB are all 1024).
absl::StatusOr<uint64_t> ParseByteSize(const std::string& text);

// Whether `text` is one YAML document, and the keys of its top level when
// that is a mapping (empty otherwise). The error names line and column.
// Used to check the answers of intelligence runs.
absl::StatusOr<std::vector<std::string>> YamlTopLevelKeys(const std::string& text);

}  // namespace fleet::yaml

#endif  // FLEET_CORE_YAML_YAML_TO_PROTO_H_
