// What an export produces: files to write, and what did not carry over.
#ifndef FLEET_CORE_EXPORT_EXPORTED_H_
#define FLEET_CORE_EXPORT_EXPORTED_H_

#include <string>
#include <vector>

#include "core/config/loader.h"

namespace fleet::exporting {

struct ExportedFile {
  std::string name;  // a file name, no directory
  std::string text;
};

// A key of an engine the target cannot express, and what is lost.
struct Lost {
  int field;  // the engine's field number (config.proto), 0: the engine
  std::string what;
};

struct Exported {
  std::vector<ExportedFile> files;
  // What the target cannot express, one line each ("engine w: ..."); also
  // written as comments in the files concerned.
  std::vector<std::string> warnings;

  // Each of lost as a warning ("fleet.yaml:12:5: engine w: overlap: ..."),
  // and the comment lines saying it in the engine's files ("# Not carried
  // over: ...\n").
  std::string Warn(const config::LoadedConfig& loaded, int engine, const std::vector<Lost>& lost,
                   const std::string& comment = "#");

  // The text of the file called name, or null.
  const std::string* Find(const std::string& name) const {
    for (const ExportedFile& f : files) {
      if (f.name == name) return &f.text;
    }
    return nullptr;
  }
};

}  // namespace fleet::exporting

#endif  // FLEET_CORE_EXPORT_EXPORTED_H_
