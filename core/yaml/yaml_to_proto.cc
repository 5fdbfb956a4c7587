#include "core/yaml/yaml_to_proto.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "core/os/files.h"
#include "core/text/utf8.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/struct.pb.h"
#include "yaml-cpp/depthguard.h"

namespace fleet::yaml {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr int kMaxNodes = 200000;

const char* KindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    default:
      return "nothing";
  }
}

std::string Expected(const FieldDescriptor* field) {
  if (field->is_map()) return "a mapping of names to values";
  if (field->is_repeated()) return "a list";
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return "a string";
    case FieldDescriptor::CPPTYPE_BOOL:
      return "true or false";
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT:
      return "a number";
    case FieldDescriptor::CPPTYPE_ENUM:
      return "one of the names listed";
    case FieldDescriptor::CPPTYPE_MESSAGE:
      if (field->message_type()->full_name() == "google.protobuf.Duration") {
        return "a duration such as 90s, 5m, 1h30m, 250ms, 7d";
      }
      return "a mapping";
    default:
      return absl::EndsWith(field->name(), "_size") ? "a size such as 10MB or 4096"
                                                    : "a whole number";
  }
}

// "on-failure" for RESTART_POLICY_ON_FAILURE of enum RestartPolicy.
std::string EnumYamlName(const EnumValueDescriptor* value) {
  std::string prefix;
  for (char c : value->type()->name()) {
    if (absl::ascii_isupper(c) && !prefix.empty()) prefix += '_';
    prefix += absl::ascii_toupper(c);
  }
  absl::string_view name = value->name();
  if (absl::StartsWith(name, prefix + "_")) name.remove_prefix(prefix.size() + 1);
  return absl::StrReplaceAll(absl::AsciiStrToLower(name), {{"_", "-"}});
}

int EditDistance(const std::string& a, const std::string& b) {
  std::vector<int> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    int diagonal = row[0];
    row[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      int above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string ClosestMatch(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  int best_distance = std::max<int>(2, static_cast<int>(word.size()) / 3) + 1;
  for (const std::string& candidate : candidates) {
    int distance = EditDistance(absl::AsciiStrToLower(word), candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

absl::StatusOr<uint64_t> ParseByteSize(const std::string& text) {
  std::string s = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text));
  size_t digits = 0;
  while (digits < s.size() && (absl::ascii_isdigit(s[digits]) || s[digits] == '.')) ++digits;
  double number = 0;
  if (digits == 0 || !absl::SimpleAtod(s.substr(0, digits), &number)) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not a size"));
  }
  std::string unit(absl::StripAsciiWhitespace(s.substr(digits)));
  double scale = 1;
  if (unit.empty() || unit == "B") {
    scale = 1;
  } else if (unit == "K" || unit == "KB" || unit == "KIB") {
    scale = 1024.0;
  } else if (unit == "M" || unit == "MB" || unit == "MIB") {
    scale = 1024.0 * 1024;
  } else if (unit == "G" || unit == "GB" || unit == "GIB") {
    scale = 1024.0 * 1024 * 1024;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' has an unknown unit (use B, KB, MB or GB)"));
  }
  double bytes = number * scale;
  if (bytes > 1e18) return absl::InvalidArgumentError(absl::StrCat("'", text, "' is too large"));
  return static_cast<uint64_t>(bytes);
}

absl::StatusOr<YAML::Node> ParseYamlString(const std::string& text, const std::string& name) {
  try {
    return YAML::Load(text);
  } catch (const std::bad_alloc&) {
    // Under a memory limit: refused, and whatever ran before goes on.
    return absl::ResourceExhaustedError(
        absl::StrCat(name, ": not enough memory to parse it (", text.size(), " bytes)"));
  } catch (const YAML::DeepRecursion& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ":", e.mark.line + 1, ":", e.mark.column + 1, ": nesting is too deep"));
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) return absl::InvalidArgumentError(absl::StrCat(name, ": ", e.msg));
    return absl::InvalidArgumentError(
        absl::StrCat(name, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
  }
}

absl::StatusOr<std::vector<std::string>> YamlTopLevelKeys(const std::string& text) {
  absl::StatusOr<YAML::Node> node = ParseYamlString(text, "answer");
  if (!node.ok()) return node.status();
  std::vector<std::string> keys;
  if (node->IsMap()) {
    for (const auto& kv : *node) {
      if (kv.first.IsScalar()) keys.push_back(kv.first.Scalar());
    }
  }
  return keys;
}

absl::StatusOr<YAML::Node> ParseYamlFile(const std::string& path) {
  // A fleet file is a few KB; yaml-cpp needs ~6x a file's size in memory.
  absl::StatusOr<std::string> text = os::ReadFileBounded(path, kMaxYamlFileBytes);
  if (absl::IsNotFound(text.status())) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot be read"));
  }
  if (!text.ok()) return absl::InvalidArgumentError(text.status().message());
  return ParseYamlString(*text, path);
}

Location YamlToProto::Where(const YAML::Node& node) const {
  YAML::Mark mark = node.Mark();
  if (mark.is_null()) return {file_, 0, 0};
  return {file_, mark.line + 1, mark.column + 1};
}

void YamlToProto::Error(const YAML::Node& node, const std::string& message) {
  // A message may quote the bad text itself.
  errors_->push_back(absl::StrCat(Where(node).ToString(), ": ", text::EscapeInvalidUtf8(message)));
}

bool YamlToProto::ValidText(const YAML::Node& node, const std::string& text) {
  const size_t bad = text::FirstInvalidUtf8(text);
  if (bad == absl::string_view::npos) return true;
  Error(node, absl::StrCat("'", text, "' is not valid UTF-8 (byte ", bad + 1,
                           " of the value); fleet's strings are UTF-8 text"));
  return false;
}

bool YamlToProto::Budget(const YAML::Node& node) {
  if (++nodes_ <= kMaxNodes) return true;
  if (!over_budget_) {
    over_budget_ = true;
    Error(node, absl::StrCat("the document expands to more than ", kMaxNodes,
                             " values (aliases?); refusing to load it"));
  }
  return false;
}

void YamlToProto::Convert(const YAML::Node& node, Message* message) {
  if (!Budget(node)) return;
  map_->RecordMessage(message, Where(node));
  if (node.IsNull()) return;
  const Descriptor* descriptor = message->GetDescriptor();
  if (descriptor->full_name() == "google.protobuf.Struct") {
    ConvertStruct(node, message);
    return;
  }
  if (!node.IsMap()) {
    Error(node, absl::StrCat("expected a mapping of ", descriptor->name(), " settings, found ",
                             KindName(node)));
    return;
  }
  absl::flat_hash_set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    // A copy: it-> returns a temporary pair, and a reference into it dangles
    // at the end of this statement (AddressSanitizer caught it).
    const YAML::Node key = it->first;
    if (!key.IsScalar()) {
      Error(key, "keys must be plain names");
      continue;
    }
    const std::string name = key.Scalar();
    if (!seen.insert(name).second) {
      Error(key, absl::StrCat("duplicate key '", name, "'"));
      continue;
    }
    const FieldDescriptor* field = descriptor->FindFieldByName(name);
    if (field == nullptr) {
      std::vector<std::string> names;
      for (int i = 0; i < descriptor->field_count(); ++i) {
        names.push_back(descriptor->field(i)->name());
      }
      std::string hint = ClosestMatch(name, names);
      std::sort(names.begin(), names.end());
      Error(key,
            absl::StrCat(
                "unknown key '", name, "' in ", descriptor->name(),
                hint.empty() ? "" : absl::StrCat("; did you mean '", hint, "'?"),
                hint.empty() ? absl::StrCat(" (known: ", absl::StrJoin(names, ", "), ")") : ""));
      continue;
    }
    ConvertField(key, it->second, message, field);
  }
}

void YamlToProto::ConvertField(const YAML::Node& key, const YAML::Node& value, Message* message,
                               const FieldDescriptor* field) {
  // Errors about a scalar point at the value; about a block, at its key.
  map_->Record(message, field->number(), -1, Where(value.IsScalar() ? value : key));
  if (value.IsNull()) return;  // "key:" with nothing: leave the default.
  if (field->is_map()) {
    ConvertMap(value, message, field);
    return;
  }
  if (field->is_repeated()) {
    if (!value.IsSequence()) {
      std::string hint;
      if (field->name() == "command" && value.IsScalar()) {
        hint = absl::StrCat("; write the argv as a list, e.g. [\"", value.Scalar(),
                            "\"], or use shell: for a shell command line");
      }
      Error(value,
            absl::StrCat("'", field->name(), "' expects a list, found ", KindName(value), hint));
      return;
    }
    message->GetReflection()->ClearField(message, field);
    int index = 0;
    for (const YAML::Node& element : value) {
      if (!Budget(element)) return;
      map_->Record(message, field->number(), index++, Where(element));
      SetValue(element, message, field);
    }
    return;
  }
  SetValue(value, message, field);
}

void YamlToProto::ConvertMap(const YAML::Node& value, Message* message,
                             const FieldDescriptor* field) {
  if (!value.IsMap()) {
    Error(value, absl::StrCat("'", field->name(), "' expects a mapping, found ", KindName(value)));
    return;
  }
  const Reflection* reflection = message->GetReflection();
  const FieldDescriptor* key_field = field->message_type()->map_key();
  const FieldDescriptor* value_field = field->message_type()->map_value();
  for (auto it = value.begin(); it != value.end(); ++it) {
    if (!Budget(it->second)) return;
    if (!it->first.IsScalar() || (!it->second.IsScalar() && !it->second.IsNull())) {
      Error(it->first, absl::StrCat("'", field->name(), "' entries must be NAME: value"));
      continue;
    }
    if (!ValidText(it->first, it->first.Scalar()) ||
        (!it->second.IsNull() && !ValidText(it->second, it->second.Scalar()))) {
      continue;
    }
    Message* entry = reflection->AddMessage(message, field);
    entry->GetReflection()->SetString(entry, key_field, it->first.Scalar());
    map_->Record(message, field->number(), reflection->FieldSize(*message, field) - 1,
                 Where(it->first));
    entry->GetReflection()->SetString(entry, value_field,
                                      it->second.IsNull() ? "" : it->second.Scalar());
  }
}

void YamlToProto::SetValue(const YAML::Node& value, Message* message,
                           const FieldDescriptor* field) {
  const Reflection* reflection = message->GetReflection();
  const bool repeated = field->is_repeated();
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    Message* child = repeated ? reflection->AddMessage(message, field)
                              : reflection->MutableMessage(message, field);
    if (field->message_type()->full_name() == "google.protobuf.Duration") {
      if (!value.IsScalar()) {
        Error(value, absl::StrCat("'", field->name(), "' expects ", Expected(field)));
        return;
      }
      absl::Duration d;
      double seconds = 0;
      const std::string text = value.Scalar();
      double days = 0;
      if (absl::SimpleAtod(text, &seconds)) {
        d = absl::Seconds(seconds);
      } else if (text.size() > 1 && text.back() == 'd' &&
                 absl::SimpleAtod(text.substr(0, text.size() - 1), &days)) {
        d = absl::Hours(24 * days);  // "7d": log ages, snapshot ages.
      } else if (!absl::ParseDuration(text, &d)) {
        Error(value, absl::StrCat("'", text, "' is not a duration; expected ", Expected(field)));
        return;
      }
      if (d < absl::ZeroDuration()) {
        Error(value, absl::StrCat("'", field->name(), "' must not be negative"));
        return;
      }
      auto* duration = static_cast<google::protobuf::Duration*>(child);
      duration->set_seconds(absl::ToInt64Seconds(d));
      duration->set_nanos(
          static_cast<int32_t>(absl::ToInt64Nanoseconds(d - absl::Seconds(duration->seconds()))));
      return;
    }
    Convert(value, child);
    return;
  }
  if (!value.IsScalar()) {
    Error(value, absl::StrCat("'", field->name(), "' expects ", Expected(field), ", found ",
                              KindName(value)));
    return;
  }
  const std::string text = value.Scalar();
  auto bad = [&] {
    Error(value, absl::StrCat("'", text, "' is not valid for '", field->name(), "': expected ",
                              Expected(field)));
  };
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      if (!ValidText(value, text)) return;
      repeated ? reflection->AddString(message, field, text)
               : reflection->SetString(message, field, text);
      return;
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool b = false;
      if (!absl::SimpleAtob(text, &b)) return bad();
      repeated ? reflection->AddBool(message, field, b) : reflection->SetBool(message, field, b);
      return;
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      double d = 0;
      if (!absl::SimpleAtod(text, &d) || !std::isfinite(d)) return bad();
      repeated ? reflection->AddDouble(message, field, d)
               : reflection->SetDouble(message, field, d);
      return;
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t u = 0;
      if (!absl::SimpleAtoi(text, &u)) return bad();
      repeated ? reflection->AddUInt32(message, field, u)
               : reflection->SetUInt32(message, field, u);
      return;
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t u = 0;
      if (absl::EndsWith(field->name(), "_size")) {
        absl::StatusOr<uint64_t> size = ParseByteSize(text);
        if (!size.ok()) return bad();
        u = *size;
      } else if (!absl::SimpleAtoi(text, &u)) {
        return bad();
      }
      repeated ? reflection->AddUInt64(message, field, u)
               : reflection->SetUInt64(message, field, u);
      return;
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t i = 0;
      if (!absl::SimpleAtoi(text, &i)) return bad();
      repeated ? reflection->AddInt32(message, field, i) : reflection->SetInt32(message, field, i);
      return;
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t i = 0;
      if (!absl::SimpleAtoi(text, &i)) return bad();
      repeated ? reflection->AddInt64(message, field, i) : reflection->SetInt64(message, field, i);
      return;
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const EnumDescriptor* type = field->enum_type();
      std::vector<std::string> names;
      std::string wanted = absl::StrReplaceAll(absl::AsciiStrToLower(text), {{"_", "-"}});
      for (int i = 0; i < type->value_count(); ++i) {
        if (type->value(i)->number() == 0) continue;  // *_UNSPECIFIED is not writable.
        std::string name = EnumYamlName(type->value(i));
        if (name == wanted) {
          repeated ? reflection->AddEnumValue(message, field, type->value(i)->number())
                   : reflection->SetEnumValue(message, field, type->value(i)->number());
          return;
        }
        names.push_back(name);
      }
      std::string hint = ClosestMatch(wanted, names);
      Error(value, absl::StrCat("'", text, "' is not a valid ", field->name(), "; expected one of ",
                                absl::StrJoin(names, ", "),
                                hint.empty() ? "" : absl::StrCat(" (did you mean '", hint, "'?)")));
      return;
    }
    default:
      return bad();
  }
}

void YamlToProto::ConvertStruct(const YAML::Node& node, Message* message) {
  if (!node.IsMap()) {
    Error(node, absl::StrCat("expected a mapping, found ", KindName(node)));
    return;
  }
  auto* s = static_cast<google::protobuf::Struct*>(message);
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!Budget(it->second)) return;
    if (!it->first.IsScalar()) {
      Error(it->first, "keys must be plain names");
      continue;
    }
    if (!ValidText(it->first, it->first.Scalar())) continue;
    ConvertValue(it->second, &(*s->mutable_fields())[it->first.Scalar()]);
  }
}

void YamlToProto::ConvertValue(const YAML::Node& node, Message* message) {
  auto* value = static_cast<google::protobuf::Value*>(message);
  switch (node.Type()) {
    case YAML::NodeType::Map:
      ConvertStruct(node, value->mutable_struct_value());
      return;
    case YAML::NodeType::Sequence:
      for (const YAML::Node& element : node) {
        if (!Budget(element)) return;
        ConvertValue(element, value->mutable_list_value()->add_values());
      }
      return;
    case YAML::NodeType::Scalar: {
      double d = 0;
      bool b = false;
      const std::string& text = node.Scalar();
      if (node.Tag() != "!" && absl::SimpleAtod(text, &d) && std::isfinite(d)) {
        value->set_number_value(d);
      } else if (node.Tag() != "!" && (text == "true" || text == "false") &&
                 absl::SimpleAtob(text, &b)) {
        value->set_bool_value(b);
      } else if (ValidText(node, text)) {
        value->set_string_value(text);
      }
      return;
    }
    default:
      value->set_null_value(google::protobuf::NULL_VALUE);
  }
}

}  // namespace fleet::yaml
