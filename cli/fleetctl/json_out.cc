#include "cli/fleetctl/json_out.h"

#include <cmath>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/text/json_string.h"
#include "google/protobuf/descriptor.h"

namespace fleet::cli {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr int64_t kExactInDouble = int64_t{1} << 53;

}  // namespace

namespace {

std::string Quote(const std::string& text) { return JsonString(text); }

class Printer {
 public:
  explicit Printer(bool one_line) : one_line_(one_line) {}

  void Object(const Message& m, int depth) {
    const google::protobuf::Descriptor* d = m.GetDescriptor();
    const Reflection* r = m.GetReflection();
    out_ += "{";
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      // An unset optional message or proto3 `optional` scalar is left out;
      // plain scalars are always there (scripts need not guess defaults).
      if (!f->is_repeated() && f->has_presence() && !r->HasField(m, f)) continue;
      if (out_.back() != '{') out_ += ",";
      Break(depth + 1);
      out_ += Quote(f->name()) + (one_line_ ? ":" : ": ");
      if (f->is_map()) {
        Map(m, f, depth + 1);
      } else if (f->is_repeated()) {
        const int n = r->FieldSize(m, f);
        out_ += "[";
        for (int j = 0; j < n; ++j) {
          if (j > 0) out_ += ",";
          Break(depth + 2);
          Value(m, f, j, depth + 2);
        }
        if (n > 0) Break(depth + 1);
        out_ += "]";
      } else {
        Value(m, f, -1, depth + 1);
      }
    }
    if (out_.back() != '{') Break(depth);
    out_ += "}";
  }

  std::string Take() { return std::move(out_); }

 private:
  void Break(int depth) {
    if (!one_line_) out_ += "\n" + std::string(2 * depth, ' ');
  }

  // Map fields are repeated entry messages {key, value}: an object.
  void Map(const Message& m, const FieldDescriptor* f, int depth) {
    const Reflection* r = m.GetReflection();
    const int n = r->FieldSize(m, f);
    out_ += "{";
    for (int j = 0; j < n; ++j) {
      const Message& entry = r->GetRepeatedMessage(m, f, j);
      const FieldDescriptor* key = entry.GetDescriptor()->map_key();
      const FieldDescriptor* value = entry.GetDescriptor()->map_value();
      if (j > 0) out_ += ",";
      Break(depth + 1);
      std::string key_text;
      if (key->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        key_text = entry.GetReflection()->GetString(entry, key);
      } else {
        Printer scalar(true);
        scalar.Value(entry, key, -1, 0);
        key_text = scalar.Take();
      }
      out_ += Quote(key_text) + (one_line_ ? ":" : ": ");
      Value(entry, value, -1, depth + 1);
    }
    if (n > 0) Break(depth);
    out_ += "}";
  }

  void Integer(int64_t v) {
    if (v <= kExactInDouble && v >= -kExactInDouble) {
      out_ += absl::StrCat(v);
    } else {
      out_ += Quote(absl::StrCat(v));  // A double would round it.
    }
  }
  void Integer(uint64_t v) {
    if (v <= static_cast<uint64_t>(kExactInDouble)) {
      out_ += absl::StrCat(v);
    } else {
      out_ += Quote(absl::StrCat(v));
    }
  }

  // index -1: a singular field.
  void Value(const Message& m, const FieldDescriptor* f, int index, int depth) {
    const Reflection* r = m.GetReflection();
    const bool rep = index >= 0;
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        Integer(int64_t{rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f)});
        break;
      case FieldDescriptor::CPPTYPE_INT64:
        Integer(static_cast<int64_t>(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f)));
        break;
      case FieldDescriptor::CPPTYPE_UINT32:
        Integer(uint64_t{rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f)});
        break;
      case FieldDescriptor::CPPTYPE_UINT64:
        Integer(
            static_cast<uint64_t>(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f)));
        break;
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT: {
        const double v = f->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE
                             ? (rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f))
                             : (rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
        out_ += std::isfinite(v) ? absl::StrCat(v) : Quote(absl::StrCat(v));
        break;
      }
      case FieldDescriptor::CPPTYPE_BOOL:
        out_ += (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false";
        break;
      case FieldDescriptor::CPPTYPE_ENUM:
        out_ += Quote(ShortEnumName(rep ? *r->GetRepeatedEnum(m, f, index) : *r->GetEnum(m, f)));
        break;
      case FieldDescriptor::CPPTYPE_STRING: {
        const std::string v = rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
        out_ += Quote(f->type() == FieldDescriptor::TYPE_BYTES ? absl::Base64Escape(v) : v);
        break;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        Object(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f), depth);
        break;
    }
  }

  bool one_line_;
  std::string out_;
};

// "InstanceState" -> "INSTANCE_STATE_".
std::string UpperSnakePrefix(const std::string& camel) {
  std::string out;
  for (size_t i = 0; i < camel.size(); ++i) {
    if (i > 0 && absl::ascii_isupper(camel[i])) out += '_';
    out += absl::ascii_toupper(camel[i]);
  }
  return out + "_";
}

}  // namespace

std::string ShortEnumName(const google::protobuf::EnumValueDescriptor& value) {
  std::string name = value.name();
  const std::string prefix = UpperSnakePrefix(value.type()->name());
  if (absl::StartsWith(name, prefix) && name.size() > prefix.size())
    name = name.substr(prefix.size());
  return absl::AsciiStrToLower(name);
}

std::string LogStreamName(fleet::control::v1::LogStream stream) {
  switch (stream) {
    case fleet::control::v1::LOG_STREAM_STDERR:
      return "stderr";
    case fleet::control::v1::LOG_STREAM_FLEET:
      return "fleet";
    default:
      return "stdout";
  }
}

std::string LogLineJson(const fleet::control::v1::LogLine& line) {
  return absl::StrCat("{\"instance\":", JsonString(line.instance()),
                      ",\"unix_micros\":", line.unix_micros(),
                      ",\"stream\":", JsonString(LogStreamName(line.stream())),
                      ",\"text\":", JsonString(line.text()), "}\n");
}

std::string OperatorJson(const google::protobuf::Message& message, bool one_line) {
  Printer printer(one_line);
  printer.Object(message, 0);
  return printer.Take() + "\n";
}

}  // namespace fleet::cli
