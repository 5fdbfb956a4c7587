// What an export produces: files to write, and what did not carry over.
#ifndef FLEET_CORE_EXPORT_EXPORTED_H_
#define FLEET_CORE_EXPORT_EXPORTED_H_

#include <string>
#include <vector>

namespace fleet::exporting {

struct ExportedFile {
  std::string name;  // a file name, no directory
  std::string text;
};

struct Exported {
  std::vector<ExportedFile> files;
  // What the target cannot express, one line each ("engine w: ..."); also
  // written as comments in the files concerned.
  std::vector<std::string> warnings;

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
