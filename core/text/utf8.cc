#include "core/text/utf8.h"

#include "absl/strings/str_format.h"

namespace fleet::text {
namespace {

// The length of the well-formed sequence at bytes[i], or 0.
size_t SequenceAt(absl::string_view bytes, size_t i) {
  const auto at = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
  const unsigned char b = at(i);
  if (b < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // Bounds of the second byte.
  if (b >= 0xC2 && b <= 0xDF) {
    n = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3;
    if (b == 0xE0) lo = 0xA0;  // No overlongs.
    if (b == 0xED) hi = 0x9F;  // No surrogates.
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4;
    if (b == 0xF0) lo = 0x90;  // No overlongs.
    if (b == 0xF4) hi = 0x8F;  // Nothing past U+10FFFF.
  } else {
    return 0;
  }
  if (i + n > bytes.size()) return 0;
  if (at(i + 1) < lo || at(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (at(i + k) < 0x80 || at(i + k) > 0xBF) return 0;
  }
  return n;
}

}  // namespace

size_t FirstInvalidUtf8(absl::string_view bytes) {
  for (size_t i = 0; i < bytes.size();) {
    const size_t n = SequenceAt(bytes, i);
    if (n == 0) return i;
    i += n;
  }
  return absl::string_view::npos;
}

std::string EscapeInvalidUtf8(absl::string_view bytes) {
  size_t bad = FirstInvalidUtf8(bytes);
  if (bad == absl::string_view::npos) return std::string(bytes);
  std::string out(bytes.substr(0, bad));
  for (size_t i = bad; i < bytes.size();) {
    const size_t n = SequenceAt(bytes, i);
    if (n == 0) {
      absl::StrAppendFormat(&out, "\\x%02X", static_cast<unsigned char>(bytes[i]));
      ++i;
    } else {
      out.append(bytes.data() + i, n);
      i += n;
    }
  }
  return out;
}

}  // namespace fleet::text
