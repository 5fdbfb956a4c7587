#include "cli/fleetctl/table.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace fleet::cli {

namespace ctl = ::fleet::control::v1;

const char* StateColor(ctl::InstanceState state) {
  switch (state) {
    case ctl::INSTANCE_STATE_RUNNING:
    case ctl::INSTANCE_STATE_IDLE:
      return "\033[32m";  // green
    case ctl::INSTANCE_STATE_FATAL:
    case ctl::INSTANCE_STATE_EXITED:
      return "\033[31m";  // red
    case ctl::INSTANCE_STATE_STOPPED:
      return "\033[2m";  // dim
    default:
      return "\033[33m";  // yellow: on its way somewhere
  }
}

size_t DisplayWidth(absl::string_view text) {
  size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

std::string Clip(const std::string& text, size_t columns) {
  if (DisplayWidth(text) <= columns || columns < 3) return text;
  size_t kept = 0, i = 0;
  for (; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 && ++kept > columns - 3) break;
  }
  return text.substr(0, i) + "...";
}

std::string Table(const std::vector<std::vector<std::string>>& rows,
                  const std::vector<ctl::InstanceState>& states, size_t state_col, bool color,
                  absl::string_view indent) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t c = 0; c + 1 < row.size(); ++c) {
      width[c] = std::max(width[c], DisplayWidth(row[c]));
    }
  }
  std::string out;
  for (size_t r = 0; r < rows.size(); ++r) {
    std::string line(indent);
    for (size_t c = 0; c < rows[r].size(); ++c) {
      std::string cell = rows[r][c];
      if (c + 1 < rows[r].size()) cell.append(width[c] + 2 - DisplayWidth(cell), ' ');
      if (color && c == state_col && r > 0 && r < states.size() &&
          states[r] != ctl::INSTANCE_STATE_UNSPECIFIED) {
        cell = absl::StrCat(StateColor(states[r]), cell, "\033[0m");
      }
      absl::StrAppend(&line, cell);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

}  // namespace fleet::cli
