#include "core/killcond/metrics.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace fleet::killcond {
namespace {

constexpr size_t kMaxFileBytes = 1 << 20;
constexpr int kMaxDepth = 16;

bool ValidName(absl::string_view name) {
  if (name.empty() || name.size() > 128 || !(absl::ascii_isalpha(name[0]) || name[0] == '_')) {
    return false;
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.') return false;
  }
  return true;
}

void Flatten(const google::protobuf::Struct& s, const std::string& prefix, int depth,
             Metrics* out) {
  if (depth > kMaxDepth) return;
  for (const auto& [key, value] : s.fields()) {
    std::string name = prefix.empty() ? key : absl::StrCat(prefix, ".", key);
    switch (value.kind_case()) {
      case google::protobuf::Value::kNumberValue:
        if (ValidName(name) && std::isfinite(value.number_value())) (*out)[name] = value.number_value();
        break;
      case google::protobuf::Value::kBoolValue:
        if (ValidName(name)) (*out)[name] = value.bool_value() ? 1 : 0;
        break;
      case google::protobuf::Value::kStructValue:
        Flatten(value.struct_value(), name, depth + 1, out);
        break;
      default:
        break;  // Strings, lists, nulls: not variables.
    }
  }
}

}  // namespace

absl::Status ParseMetricLine(absl::string_view line, Metrics* out) {
  absl::ConsumePrefix(&line, kMetricMarker);
  for (absl::string_view pair : absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
    size_t eq = pair.find('=');
    absl::string_view name = pair.substr(0, eq == absl::string_view::npos ? pair.size() : eq);
    if (eq == absl::string_view::npos || !ValidName(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("FLEET_METRIC: '", pair, "' is not name=number"));
    }
    absl::string_view text = pair.substr(eq + 1);
    absl::ConsumePrefix(&text, "$");
    absl::ConsumeSuffix(&text, "%");
    double value = 0;
    if (!absl::SimpleAtod(text, &value) || !std::isfinite(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("FLEET_METRIC: value of '", name, "' is not a number: '", pair.substr(eq + 1), "'"));
    }
    (*out)[std::string(name)] = value;
  }
  return absl::OkStatus();
}

absl::StatusOr<Metrics> ParseMetricsJson(const std::string& text) {
  if (text.size() > kMaxFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat("metrics file is ", text.size(),
                                                   " bytes; at most 1 MB is read"));
  }
  google::protobuf::Struct root;
  // protobuf's parser bounds recursion itself.
  auto status = google::protobuf::util::JsonStringToMessage(text, &root);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics file is not a JSON object: ", status.message().as_string()));
  }
  Metrics out;
  Flatten(root, "", 0, &out);
  return out;
}

}  // namespace fleet::killcond
