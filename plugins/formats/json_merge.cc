#include "plugins/formats/json_merge.h"

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <string>
#include <unordered_set>

namespace fleet::plugins::formats {
namespace {

constexpr int kMaxDepth = 256;
constexpr size_t kMaxBytes = 8 << 20;

class Parser {
 public:
  Parser(const std::string& text, std::string* error) : s_(text), error_(error) {}

  std::optional<Json> Document() {
    if (s_.size() > kMaxBytes) return Fail("file is larger than 8 MB");
    std::optional<Json> value = Value(0);
    if (!value.has_value()) return std::nullopt;
    Skip();
    if (pos_ != s_.size()) return Fail("unexpected text after the value");
    return value;
  }

 private:
  std::nullopt_t Fail(const std::string& what) {
    int line = 1, column = 1;
    for (size_t i = 0; i < pos_ && i < s_.size(); ++i) {
      if (s_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    *error_ = "line " + std::to_string(line) + " column " + std::to_string(column) + ": " + what;
    return std::nullopt;
  }

  void Skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }

  bool Literal(const char* word) {
    size_t n = std::char_traits<char>::length(word);
    if (s_.compare(pos_, n, word) != 0) return false;
    pos_ += n;
    return true;
  }

  std::optional<Json> Value(int depth) {
    if (depth > kMaxDepth) return Fail("nesting is too deep");
    Skip();
    if (pos_ >= s_.size()) return Fail("a value was expected");
    Json v;
    const char c = s_[pos_];
    if (c == '{') return Object(depth);
    if (c == '[') return Array(depth);
    if (c == '"') {
      v.type = Json::kString;
      if (!String(&v.text)) return std::nullopt;
      return v;
    }
    if (Literal("true") || Literal("false")) {
      v.type = Json::kBool;
      v.boolean = s_[pos_ - 1] == 'e' && s_[pos_ - 2] == 'u';
      return v;
    }
    if (Literal("null")) return v;
    size_t start = pos_;
    if (s_[pos_] == '-') ++pos_;
    while (pos_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[pos_])) ||
                                s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E' ||
                                s_[pos_] == '+' || s_[pos_] == '-')) {
      ++pos_;
    }
    if (pos_ == start || (pos_ == start + 1 && s_[start] == '-')) return Fail("a value was expected");
    v.type = Json::kNumber;
    v.text = s_.substr(start, pos_ - start);
    return v;
  }

  // Four hex digits at pos_, as a number; false (and the error) otherwise.
  bool Hex4(uint32_t* value) {
    if (pos_ + 4 > s_.size()) {
      Fail("short \\u escape");
      return false;
    }
    *value = 0;
    for (size_t end = pos_ + 4; pos_ < end; ++pos_) {
      const char h = s_[pos_];
      if (!std::isxdigit(static_cast<unsigned char>(h))) {
        Fail("\\u must be followed by four hex digits");
        return false;
      }
      *value = *value * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h))
                                                       ? h - '0'
                                                       : std::tolower(h) - 'a' + 10);
    }
    return true;
  }

  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      *out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      *out += static_cast<char>(0xC0 | (cp >> 6));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      *out += static_cast<char>(0xE0 | (cp >> 12));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      *out += static_cast<char>(0xF0 | (cp >> 18));
      *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool String(std::string* out) {
    ++pos_;  // the opening quote
    while (pos_ < s_.size() && s_[pos_] != '"') {
      char c = s_[pos_++];
      if (static_cast<unsigned char>(c) < 0x20) {
        Fail("control character in a string");
        return false;
      }
      if (c == '\\') {
        if (pos_ >= s_.size()) break;
        char e = s_[pos_++];
        switch (e) {
          case 'n': c = '\n'; break;
          case 't': c = '\t'; break;
          case 'r': c = '\r'; break;
          case 'b': c = '\b'; break;
          case 'f': c = '\f'; break;
          case 'u': {
            // Decoded to UTF-8, so a value is one string whatever escapes
            // spelled it, and writes back to the same value.
            uint32_t unit = 0;
            if (!Hex4(&unit)) return false;
            if (unit >= 0xDC00 && unit <= 0xDFFF) {
              Fail("a lone low surrogate in a \\u escape");
              return false;
            }
            if (unit >= 0xD800 && unit <= 0xDBFF) {
              uint32_t low = 0;
              if (s_.compare(pos_, 2, "\\u") != 0) {
                Fail("a high surrogate without its low half");
                return false;
              }
              pos_ += 2;
              if (!Hex4(&low)) return false;
              if (low < 0xDC00 || low > 0xDFFF) {
                Fail("a high surrogate without its low half");
                return false;
              }
              unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
            }
            AppendUtf8(unit, out);
            continue;
          }
          case '"':
          case '\\':
          case '/':
            c = e;
            break;
          default:
            --pos_;
            Fail(std::string("'\\") + e + "' is not a JSON escape");
            return false;
        }
      }
      *out += c;
    }
    if (pos_ >= s_.size()) {
      Fail("unterminated string");
      return false;
    }
    ++pos_;
    return true;
  }

  std::optional<Json> Object(int depth) {
    Json v;
    v.type = Json::kObject;
    ++pos_;
    Skip();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      return v;
    }
    // A key given twice has no one meaning (and the merge could not say
    // which one changed): refused, as the YAML check refuses it.
    std::unordered_set<std::string> seen;
    for (;;) {
      Skip();
      if (pos_ >= s_.size() || s_[pos_] != '"') return Fail("a key in quotes was expected");
      const size_t key_start = pos_;
      std::string key;
      if (!String(&key)) return std::nullopt;
      if (!seen.insert(key).second) {
        pos_ = key_start;
        return Fail("key '" + key + "' appears twice");
      }
      Skip();
      if (pos_ >= s_.size() || s_[pos_] != ':') return Fail("':' was expected");
      ++pos_;
      std::optional<Json> member = Value(depth + 1);
      if (!member.has_value()) return std::nullopt;
      v.members.emplace_back(std::move(key), std::move(*member));
      Skip();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        return v;
      }
      return Fail("',' or '}' was expected");
    }
  }

  std::optional<Json> Array(int depth) {
    Json v;
    v.type = Json::kArray;
    ++pos_;
    Skip();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      return v;
    }
    for (;;) {
      std::optional<Json> item = Value(depth + 1);
      if (!item.has_value()) return std::nullopt;
      v.items.push_back(std::move(*item));
      Skip();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        return v;
      }
      return Fail("',' or ']' was expected");
    }
  }

  const std::string& s_;
  std::string* error_;
  size_t pos_ = 0;
};

void Quote(const std::string& s, std::string* out) {
  *out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '"' || c == '\\') {
      *out += '\\';
      *out += c;
    } else if (c == '\n') {
      *out += "\\n";
    } else if (c == '\t') {
      *out += "\\t";
    } else if (c == '\r') {
      *out += "\\r";
    } else if (c == '\b') {
      *out += "\\b";
    } else if (c == '\f') {
      *out += "\\f";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      *out += buf;
    } else {
      *out += c;
    }
  }
  *out += '"';
}

void Write(const Json& v, int indent, std::string* out) {
  const std::string pad(static_cast<size_t>(indent) * 2, ' ');
  switch (v.type) {
    case Json::kNull: *out += "null"; return;
    case Json::kBool: *out += v.boolean ? "true" : "false"; return;
    case Json::kNumber: *out += v.text; return;
    case Json::kString: Quote(v.text, out); return;
    case Json::kArray:
      if (v.items.empty()) {
        *out += "[]";
        return;
      }
      *out += "[\n";
      for (size_t i = 0; i < v.items.size(); ++i) {
        *out += pad + "  ";
        Write(v.items[i], indent + 1, out);
        *out += i + 1 < v.items.size() ? ",\n" : "\n";
      }
      *out += pad + "]";
      return;
    case Json::kObject:
      if (v.members.empty()) {
        *out += "{}";
        return;
      }
      *out += "{\n";
      for (size_t i = 0; i < v.members.size(); ++i) {
        *out += pad + "  ";
        Quote(v.members[i].first, out);
        *out += ": ";
        Write(v.members[i].second, indent + 1, out);
        *out += i + 1 < v.members.size() ? ",\n" : "\n";
      }
      *out += pad + "}";
      return;
  }
}

// Present-or-absent values of one key on the three sides.
bool Same(const Json* a, const Json* b) {
  if (a == nullptr || b == nullptr) return a == b;
  return *a == *b;
}

}  // namespace

const Json* Json::Find(const std::string& key) const {
  for (const auto& [k, v] : members) {
    if (k == key) return &v;
  }
  return nullptr;
}

bool Json::operator==(const Json& o) const {
  if (type != o.type) return false;
  switch (type) {
    case kNull: return true;
    case kBool: return boolean == o.boolean;
    case kNumber:
    case kString: return text == o.text;
    case kArray: return items == o.items;
    case kObject:
      if (members.size() != o.members.size()) return false;
      for (const auto& [k, v] : members) {
        const Json* other = o.Find(k);
        if (other == nullptr || *other != v) return false;
      }
      return true;
  }
  return false;
}

std::optional<Json> ParseJson(const std::string& text, std::string* error) {
  return Parser(text, error).Document();
}

std::string WriteJson(const Json& value) {
  std::string out;
  Write(value, 0, &out);
  out += '\n';
  return out;
}

Json MergeJson(const Json* base, const Json& ours, const Json& theirs, bool ours_wins) {
  if (ours == theirs) return ours;
  if (base != nullptr && ours == *base) return theirs;
  if (base != nullptr && theirs == *base) return ours;
  if (ours.type != Json::kObject || theirs.type != Json::kObject) return ours_wins ? ours : theirs;
  const Json* base_object = base != nullptr && base->type == Json::kObject ? base : nullptr;
  Json merged;
  merged.type = Json::kObject;
  std::vector<std::string> keys;  // theirs' order, then keys only ours has
  for (const auto& [k, v] : theirs.members) keys.push_back(k);
  for (const auto& [k, v] : ours.members) {
    if (theirs.Find(k) == nullptr) keys.push_back(k);
  }
  for (const std::string& key : keys) {
    const Json* b = base_object != nullptr ? base_object->Find(key) : nullptr;
    const Json* o = ours.Find(key);
    const Json* t = theirs.Find(key);
    const Json* pick = nullptr;
    Json nested;
    if (Same(o, t)) {
      pick = o;
    } else if (Same(o, b)) {
      pick = t;  // Only theirs changed it (or deleted it).
    } else if (Same(t, b)) {
      pick = o;
    } else if (o != nullptr && t != nullptr) {
      nested = MergeJson(b, *o, *t, ours_wins);
      pick = &nested;
    } else {
      pick = ours_wins ? o : t;  // Changed on one side, deleted on the other.
    }
    if (pick != nullptr) merged.members.emplace_back(key, *pick);
  }
  return merged;
}

}  // namespace fleet::plugins::formats
