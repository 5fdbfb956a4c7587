// fleetctl's JSON for scripts (`-o json`): every field under its proto name,
// 64-bit numbers as numbers while a double holds them exactly (|n| <= 2^53,
// as jq and JavaScript read them), enums as short lower-case words
// ("running", not "INSTANCE_STATE_RUNNING"). `-o protojson` keeps protobuf's
// own mapping for programs that parse into fleet's protos.
#ifndef FLEET_CLI_FLEETCTL_JSON_OUT_H_
#define FLEET_CLI_FLEETCTL_JSON_OUT_H_

#include <string>

#include "google/protobuf/message.h"

namespace fleet::cli {

// Indented (pretty) when one_line is false; one line, no spaces, for
// JSON-lines streams (`events -o json`). Ends with a newline.
std::string OperatorJson(const google::protobuf::Message& message, bool one_line = false);

// "INSTANCE_STATE_RUNNING" of enum InstanceState -> "running".
std::string ShortEnumName(const google::protobuf::EnumValueDescriptor& value);

}  // namespace fleet::cli

#endif  // FLEET_CLI_FLEETCTL_JSON_OUT_H_
