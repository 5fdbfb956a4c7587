#include "core/intel/answer_check.h"

#include <algorithm>
#include <regex>

#include "absl/strings/str_cat.h"
#include "core/config/yaml_to_proto.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace fleet::intel {
namespace {

// Patterns are ECMAScript; "(?i)" at the start (as in RE2 and PCRE, which
// operators know) makes one case-insensitive.
bool Search(const std::string& pattern, const std::string& text) {
  std::string body = pattern;
  auto flags = std::regex::ECMAScript;
  if (body.rfind("(?i)", 0) == 0) {
    body = body.substr(4);
    flags |= std::regex::icase;
  }
  try {
    return std::regex_search(text, std::regex(body, flags));
  } catch (const std::regex_error&) {
    return false;  // Refused at load; cannot happen.
  }
}

}  // namespace

absl::Status CheckPattern(const std::string& pattern) {
  std::string body = pattern.rfind("(?i)", 0) == 0 ? pattern.substr(4) : pattern;
  try {
    std::regex compiled(body, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", pattern, "' is not a valid regular expression: ", e.what()));
  }
  return absl::OkStatus();
}

std::string CheckAnswer(const fleet::config::v1::Output& output, const std::string& answer) {
  if (output.min_length() > 0 && answer.size() < output.min_length()) {
    return absl::StrCat(answer.size(), " bytes, below min_length ", output.min_length());
  }
  if (output.max_length() > 0 && answer.size() > output.max_length()) {
    return absl::StrCat(answer.size(), " bytes, above max_length ", output.max_length());
  }
  std::vector<std::string> keys;
  bool map = false;
  if (output.format() == "json") {
    google::protobuf::Value value;
    auto parsed = google::protobuf::util::JsonStringToMessage(answer, &value);
    if (!parsed.ok()) return absl::StrCat("not valid JSON (", parsed.ToString(), ")");
    map = value.has_struct_value();
    for (const auto& [key, unused] : value.struct_value().fields()) keys.push_back(key);
  } else if (output.format() == "yaml") {
    absl::StatusOr<std::vector<std::string>> top = config::YamlTopLevelKeys(answer);
    if (!top.ok()) return absl::StrCat("not valid YAML (", top.status().message(), ")");
    keys = *top;
    map = !keys.empty();
  }
  for (const std::string& key : output.required_keys()) {
    if (!map)
      return absl::StrCat("required key '", key, "' is missing (the answer is not a mapping)");
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      return absl::StrCat("required key '", key, "' is missing");
    }
  }
  for (const std::string& pattern : output.must_match()) {
    if (!Search(pattern, answer)) return absl::StrCat("does not match must_match '", pattern, "'");
  }
  for (const std::string& pattern : output.must_not_match()) {
    if (Search(pattern, answer)) return absl::StrCat("matches must_not_match '", pattern, "'");
  }
  return "";
}

bool RateLimited(const fleet::config::v1::Budget& budget, int exit_code, const std::string& text) {
  for (int code : budget.rate_limit_exit_codes()) {
    if (code == exit_code) return true;
  }
  return !budget.rate_limit_pattern().empty() && Search(budget.rate_limit_pattern(), text);
}

}  // namespace fleet::intel
