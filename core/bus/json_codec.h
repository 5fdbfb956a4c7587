// JSON for bus records, with protobuf's type resolver built once. protobuf
// 3.21's MessageToJsonString and JsonStringToMessage build one per call,
// which was 15% of a worker's and the conductor's instructions in
// bus_bench (callgrind).
#ifndef FLEET_CORE_BUS_JSON_CODEC_H_
#define FLEET_CORE_BUS_JSON_CODEC_H_

#include <string>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace fleet::bus {

// One line of JSON (proto field names), newline-terminated.
std::string ToJsonLine(const google::protobuf::Message& message);
// Parses json into message (unknown fields are errors).
absl::Status FromJson(const std::string& json, google::protobuf::Message* message);

}  // namespace fleet::bus

#endif  // FLEET_CORE_BUS_JSON_CODEC_H_
