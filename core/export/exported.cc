#include "core/export/exported.h"

#include "absl/strings/str_cat.h"

namespace fleet::exporting {

std::string Exported::Warn(const config::LoadedConfig& loaded, int engine,
                           const std::vector<Lost>& lost, const std::string& comment) {
  std::string lines;
  const std::string& name = loaded.config.engines(engine).name();
  for (const Lost& l : lost) {
    absl::StrAppend(&lines, comment, " Not carried over: ", l.what, "\n");
    warnings.push_back(
        absl::StrCat(loaded.KeyWhere(engine, l.field), ": engine ", name, ": ", l.what));
  }
  return lines;
}

}  // namespace fleet::exporting
