#include "core/export/yaml_writer.h"

#include "core/text/json_string.h"

namespace fleet::exporting {

Yaml Yaml::Strings(const std::vector<std::string>& items) {
  Yaml list = List();
  for (const std::string& s : items) list.Add(Str(s));
  return list;
}

Yaml& Yaml::Set(const std::string& key, Yaml value) {
  for (auto& [k, v] : items_) {
    if (k == key) return v = std::move(value);
  }
  items_.emplace_back(key, std::move(value));
  return items_.back().second;
}

Yaml& Yaml::Add(Yaml value) {
  items_.emplace_back("", std::move(value));
  return items_.back().second;
}

Yaml& Yaml::operator[](const std::string& key) {
  for (auto& [k, v] : items_) {
    if (k == key) return v;
  }
  return Set(key, Map());
}

std::string Yaml::ScalarText() const {
  // YAML's double-quoted style reads JSON's escapes the same way.
  return kind_ == Kind::kNumber ? scalar_ : text::JsonString(scalar_);
}

void Yaml::WriteTo(std::string* out, int indent) const {
  const std::string pad(static_cast<size_t>(indent), ' ');
  for (const auto& [key, value] : items_) {
    const std::string lead = kind_ == Kind::kList ? pad + "- " : pad + key + ":";
    if (value.Scalar()) {
      *out += lead + (kind_ == Kind::kList ? "" : " ") + value.ScalarText() + "\n";
    } else if (value.items_.empty()) {
      *out += lead + (kind_ == Kind::kList ? "" : " ") + (value.kind_ == Kind::kMap ? "{}" : "[]") +
              "\n";
    } else if (kind_ == Kind::kList && value.kind_ == Kind::kMap) {
      // "- first: x" then the rest of the map under it.
      std::string nested;
      value.WriteTo(&nested, indent + 2);
      *out += pad + "- " + nested.substr(static_cast<size_t>(indent) + 2);
    } else {
      *out += lead + "\n";
      value.WriteTo(out, kind_ == Kind::kList ? indent + 2 : indent + 2);
    }
  }
}

std::string Yaml::Write() const {
  std::string out;
  WriteTo(&out, 0);
  return out;
}

}  // namespace fleet::exporting
