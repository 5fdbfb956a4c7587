// A small YAML tree written in block style, for manifests people read:
// maps keep the order keys were set in, strings are always double-quoted
// (JSON's escapes, which YAML reads the same; bytes that are not UTF-8
// become U+FFFD), so no value can turn into another type ("yes", "1e3",
// "0755") or break the document.
#ifndef FLEET_CORE_EXPORT_YAML_WRITER_H_
#define FLEET_CORE_EXPORT_YAML_WRITER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace fleet::exporting {

class Yaml {
 public:
  static Yaml Map() { return Yaml(Kind::kMap); }
  static Yaml List() { return Yaml(Kind::kList); }
  static Yaml Str(std::string s) {
    Yaml y(Kind::kString);
    y.scalar_ = std::move(s);
    return y;
  }
  static Yaml Int(int64_t n) {
    Yaml y(Kind::kNumber);
    y.scalar_ = std::to_string(n);
    return y;
  }
  static Yaml Bool(bool b) {
    Yaml y(Kind::kNumber);
    y.scalar_ = b ? "true" : "false";
    return y;
  }
  static Yaml Strings(const std::vector<std::string>& items);

  // Map: sets key (replacing an earlier value of it). Returns the value set.
  Yaml& Set(const std::string& key, Yaml value);
  // List: appends. Returns the item.
  Yaml& Add(Yaml value);
  // Map: the value of key, made a map if absent.
  Yaml& operator[](const std::string& key);
  bool empty() const { return items_.empty() && scalar_.empty(); }

  // The document ("---" not included), ending in a newline.
  std::string Write() const;

 private:
  enum class Kind { kMap, kList, kString, kNumber };
  explicit Yaml(Kind kind) : kind_(kind) {}
  void WriteTo(std::string* out, int indent) const;
  bool Scalar() const { return kind_ == Kind::kString || kind_ == Kind::kNumber; }
  std::string ScalarText() const;

  Kind kind_;
  std::string scalar_;
  std::vector<std::pair<std::string, Yaml>> items_;  // map entries, or list items (key "")
};

}  // namespace fleet::exporting

#endif  // FLEET_CORE_EXPORT_YAML_WRITER_H_
