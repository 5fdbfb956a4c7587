// Bytes from outside (a config, a worker's output or file, a plugin) become
// proto `string` fields, which must hold valid UTF-8: one bad byte in a
// status or event makes the reader drop the whole message ("No message
// returned"). Config text is refused where it is invalid; text only shown
// to the operator is escaped.
#ifndef FLEET_CORE_TEXT_UTF8_H_
#define FLEET_CORE_TEXT_UTF8_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace fleet::text {

// The offset of the first byte that is not part of a well-formed UTF-8
// sequence (RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF),
// or npos when all of it is valid.
size_t FirstInvalidUtf8(absl::string_view bytes);

inline bool IsValidUtf8(absl::string_view bytes) {
  return FirstInvalidUtf8(bytes) == absl::string_view::npos;
}

// bytes with each byte of an ill-formed sequence written as \xHH; valid
// text (and a backslash) is unchanged, so valid input costs one scan.
std::string EscapeInvalidUtf8(absl::string_view bytes);

}  // namespace fleet::text

#endif  // FLEET_CORE_TEXT_UTF8_H_
