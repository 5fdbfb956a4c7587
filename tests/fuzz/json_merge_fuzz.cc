// State files' JSON: the parser, the writer (what it writes parses to the
// same value), and the three-way merge of base, ours and theirs (the input
// split at its first two NUL bytes).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "plugins/formats/json_merge.h"

using fleet::plugins::formats::Json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts;
  size_t start = 0;
  for (int i = 0; i < 2; ++i) {
    const size_t nul = input.find('\0', start);
    if (nul == std::string::npos) break;
    parts.push_back(input.substr(start, nul - start));
    start = nul + 1;
  }
  parts.push_back(input.substr(start));
  std::vector<Json> values;
  for (const std::string& text : parts) {
    std::string error;
    std::optional<Json> json = fleet::plugins::formats::ParseJson(text, &error);
    if (!json.has_value()) continue;
    const std::string written = fleet::plugins::formats::WriteJson(*json);
    std::optional<Json> again = fleet::plugins::formats::ParseJson(written, &error);
    if (!again.has_value() || *again != *json) std::abort();  // The writer must round-trip.
    values.push_back(*std::move(json));
  }
  if (values.size() == 3) {
    (void)fleet::plugins::formats::MergeJson(&values[0], values[1], values[2], true);
    (void)fleet::plugins::formats::MergeJson(nullptr, values[1], values[2], false);
  }
  return 0;
}
