#include "core/metrics/exposition.h"

#include <charconv>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace fleet::metrics {
namespace {

bool NameChar(char c, bool first, bool colon) {
  return absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_' || (colon && c == ':') ||
         (!first && absl::ascii_isdigit(static_cast<unsigned char>(c)));
}

bool ValidName(absl::string_view name, bool colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!NameChar(name[i], i == 0, colon)) return false;
  }
  return true;
}

// Label values: backslash, double quote and newline escaped (both formats).
void AppendLabelValue(absl::string_view value, std::string* out) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '"':
        out->append("\\\"");
        break;
      case '\n':
        out->append("\\n");
        break;
      default:
        out->push_back(c);
    }
  }
}

// HELP text: backslash and newline escaped (OpenMetrics also escapes '"').
void AppendHelp(absl::string_view help, bool quote, std::string* out) {
  for (char c : help) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '"' && quote) {
      out->append("\\\"");
    } else {
      out->push_back(c);
    }
  }
}

const char* TypeName(Type type) {
  switch (type) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

Format FormatFor(absl::string_view accept) {
  return absl::StrContains(accept, "application/openmetrics-text") ? Format::kOpenMetrics
                                                                   : Format::kPrometheusText;
}

const char* ContentType(Format format) {
  return format == Format::kOpenMetrics
             ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
             : "text/plain; version=0.0.4; charset=utf-8";
}

bool ValidMetricName(absl::string_view name) { return ValidName(name, /*colon=*/true); }
bool ValidLabelName(absl::string_view name) {
  return ValidName(name, /*colon=*/false) && !absl::StartsWith(name, "__");
}

std::string SanitizeName(absl::string_view name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (i == 0 && absl::ascii_isdigit(static_cast<unsigned char>(c))) out.push_back('_');
    out.push_back(NameChar(c, /*first=*/false, /*colon=*/false) ? c : '_');
  }
  return out.empty() ? "_" : out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return error == std::errc() ? std::string(buffer, end) : absl::StrCat(value);
}

void Exposition::Family(absl::string_view name, Type type, absl::string_view help) {
  name_.clear();
  if (!ValidMetricName(name)) return;
  if (type == Type::kCounter && !absl::EndsWith(name, "_total")) return;
  name_ = std::string(name);
  type_ = type;
  absl::string_view family = name;
  if (format_ == Format::kOpenMetrics && type == Type::kCounter) {
    family.remove_suffix(sizeof("_total") - 1);
  }
  absl::StrAppend(&out_, "# HELP ", family, " ");
  AppendHelp(help, format_ == Format::kOpenMetrics, &out_);
  absl::StrAppend(&out_, "\n# TYPE ", family, " ", TypeName(type), "\n");
}

void Exposition::Line(absl::string_view suffix, const Labels& labels, absl::string_view extra_label,
                      absl::string_view extra_value, double value) {
  absl::StrAppend(&out_, name_, suffix);
  bool first = true;
  auto label = [&](absl::string_view key, absl::string_view v) {
    absl::StrAppend(&out_, first ? "{" : ",", key, "=\"");
    AppendLabelValue(v, &out_);
    out_.push_back('"');
    first = false;
  };
  for (const auto& [key, v] : labels) {
    if (ValidLabelName(key)) label(key, v);
  }
  if (!extra_label.empty()) label(extra_label, extra_value);
  if (!first) out_.push_back('}');
  absl::StrAppend(&out_, " ", FormatValue(value), "\n");
}

void Exposition::Sample(const Labels& labels, double value) {
  if (name_.empty() || type_ == Type::kHistogram) return;
  Line("", labels, "", "", value);
}

void Exposition::Histogram(const Labels& labels, const std::vector<double>& bounds,
                           const std::vector<uint64_t>& counts, double sum, uint64_t count) {
  if (name_.empty() || type_ != Type::kHistogram) return;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds.size(); ++i) {
    cumulative += i < counts.size() ? counts[i] : 0;
    Line("_bucket", labels, "le", FormatValue(bounds[i]), static_cast<double>(cumulative));
  }
  Line("_bucket", labels, "le", "+Inf", static_cast<double>(count));
  Line("_sum", labels, "", "", sum);
  Line("_count", labels, "", "", static_cast<double>(count));
}

std::string Exposition::Finish() {
  if (format_ == Format::kOpenMetrics) out_.append("# EOF\n");
  return std::move(out_);
}

}  // namespace fleet::metrics
