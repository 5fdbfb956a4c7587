// fleetctl's JSON for scripts (`-o json`): every field under its proto name,
// 64-bit numbers as numbers while a double holds them exactly (|n| <= 2^53,
// as jq and JavaScript read them), enums as short lower-case words
// ("running", not "INSTANCE_STATE_RUNNING"). `-o protojson` keeps protobuf's
// own mapping for programs that parse into fleet's protos.
#ifndef FLEET_CLI_FLEETCTL_JSON_OUT_H_
#define FLEET_CLI_FLEETCTL_JSON_OUT_H_

#include <string>

#include "absl/strings/string_view.h"
#include "core/text/json_string.h"
#include "google/protobuf/message.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::cli {

using ::fleet::text::JsonString;  // core/text/json_string.h

// Indented (pretty) when one_line is false; one line, no spaces, for
// JSON-lines streams (`events -o json`). Ends with a newline.
std::string OperatorJson(const google::protobuf::Message& message, bool one_line = false);

// "stdout", "stderr", "fleet".
std::string LogStreamName(fleet::control::v1::LogStream stream);

// One captured line as one JSON line: its text as a string (not base64),
// unix_micros 0 when fleetd did not record when it came.
std::string LogLineJson(const fleet::control::v1::LogLine& line);

// "INSTANCE_STATE_RUNNING" of enum InstanceState -> "running".
std::string ShortEnumName(const google::protobuf::EnumValueDescriptor& value);

}  // namespace fleet::cli

#endif  // FLEET_CLI_FLEETCTL_JSON_OUT_H_
