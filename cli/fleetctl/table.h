// fleetctl's one table writer: left-aligned columns sized to their widest
// cell, states coloured on a terminal, cells clipped where a screen is
// narrow. Every table fleetctl prints goes through it.
#ifndef FLEET_CLI_FLEETCTL_TABLE_H_
#define FLEET_CLI_FLEETCTL_TABLE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "proto/fleet/control/v1/control.pb.h"

namespace fleet::cli {

// The terminal color an instance state is shown in (ANSI escape).
const char* StateColor(fleet::control::v1::InstanceState state);

// Columns on a terminal: one per UTF-8 code point (names and reasons may
// be non-ASCII; wide CJK glyphs are not measured as two).
size_t DisplayWidth(absl::string_view text);

// text cut to at most `columns` columns, "..." marking the cut.
std::string Clip(const std::string& text, size_t columns);

// Left-aligned columns, two spaces apart, the first row a header; every
// row indented by `indent`. With color, column state_col of row r is
// coloured by states[r]; states may be empty for a table without states.
std::string Table(const std::vector<std::vector<std::string>>& rows,
                  const std::vector<fleet::control::v1::InstanceState>& states = {},
                  size_t state_col = 0, bool color = false, absl::string_view indent = "");

}  // namespace fleet::cli

#endif  // FLEET_CLI_FLEETCTL_TABLE_H_
