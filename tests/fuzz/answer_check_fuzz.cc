// An intelligence run's answer (what the LLM CLI printed) against the
// checks an operator can declare: JSON and YAML keys, patterns, lengths.
#include <cstdint>
#include <string>

#include "core/intel/answer_check.h"
#include "proto/fleet/config/v1/config.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string answer(reinterpret_cast<const char*>(data), size);
  for (const char* format : {"json", "yaml", "text"}) {
    fleet::config::v1::Output output;
    output.set_format(format);
    output.add_required_keys("action");
    output.add_must_match("\"action\": \"(BUY|SELL|HOLD)\"");
    output.add_must_not_match("(?i)as an ai");
    output.set_min_length(2);
    (void)fleet::intel::CheckAnswer(output, answer);
  }
  return 0;
}
