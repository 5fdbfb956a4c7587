// A JSON string literal of any bytes: what a worker wrote (file names,
// output) goes into fleet's JSON (fleetctl -o json, the event journal)
// without breaking a parser. Bytes that are not UTF-8 become U+FFFD.
#ifndef FLEET_CORE_TEXT_JSON_STRING_H_
#define FLEET_CORE_TEXT_JSON_STRING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace fleet::text {

// text quoted and escaped ("a\"b\n" for a"b and a newline).
std::string JsonString(absl::string_view text);

}  // namespace fleet::text

#endif  // FLEET_CORE_TEXT_JSON_STRING_H_
