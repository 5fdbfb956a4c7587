#include "core/intel/answer_check.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/yaml/yaml_to_proto.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "re2/re2.h"

namespace fleet::intel {
namespace {

// RE2: linear time in the answer whatever the pattern (std::regex
// backtracks, and overflowed the stack on a 1 MB answer). "(?i)" at the
// start makes a pattern case-insensitive, as operators know it from PCRE.
RE2::Options Quiet() {
  RE2::Options options;
  options.set_log_errors(false);
  return options;
}

bool Search(const std::string& pattern, const std::string& text) {
  const RE2 re(pattern, Quiet());
  return re.ok() && RE2::PartialMatch(text, re);  // Refused at load if not ok.
}

}  // namespace

absl::Status CheckPattern(const std::string& pattern) {
  const RE2 re(pattern, Quiet());
  if (!re.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", pattern, "' is not a valid regular expression: ", re.error()));
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
    absl::StatusOr<std::vector<std::string>> top = yaml::YamlTopLevelKeys(answer);
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
