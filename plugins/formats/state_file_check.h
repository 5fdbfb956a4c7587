// Whether a state file still means something: a JSON file must parse as JSON
// and a YAML file as YAML (with no key repeated in a mapping), and may be
// required to hold some top-level keys. Used after a merge (a rule's line
// union can glue two documents into nonsense) and before a file is trusted
// as a known-good snapshot.
#ifndef FLEET_PLUGINS_FORMATS_STATE_FILE_CHECK_H_
#define FLEET_PLUGINS_FORMATS_STATE_FILE_CHECK_H_

#include <string>
#include <vector>

namespace fleet::plugins::formats {

// "json", "yaml" or "text" for format "" by path's extension (.json, .yaml,
// .yml; anything else is text); format itself otherwise.
std::string FormatOf(const std::string& path, const std::string& format);

// "" when content is fine; else why not, with the position ("not valid JSON
// (line 3 column 5: ...)", "required key 'cash' is missing"). Text is fine.
std::string CheckStateFile(const std::string& path, const std::string& content,
                           const std::string& format = "",
                           const std::vector<std::string>& required_keys = {});

// CheckStateFile by extension, with no required keys.
inline std::string StateFileError(const std::string& path, const std::string& content) {
  return CheckStateFile(path, content);
}

}  // namespace fleet::plugins::formats

#endif  // FLEET_PLUGINS_FORMATS_STATE_FILE_CHECK_H_
