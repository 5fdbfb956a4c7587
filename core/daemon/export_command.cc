#include "core/daemon/export_command.h"

#include <stdio.h>

#include "absl/strings/str_cat.h"
#include "core/config/loader.h"
#include "core/daemon/daemon.h"
#include "core/export/kubernetes.h"
#include "core/export/nomad.h"
#include "core/export/systemd_units.h"
#include "core/os/files.h"
#include "core/os/process.h"

namespace fleet::daemon {
namespace {

constexpr char kUsage[] =
    "usage: fleetctl export systemd CONFIG [-o DIR|-] [--approximate] [--force]\n"
    "       fleetctl export kubernetes CONFIG --image IMAGE [--namespace NS] [-o DIR|-]\n"
    "                                         [--approximate] [--force]\n"
    "       fleetctl export nomad CONFIG [-o DIR|-] [--approximate] [--force]\n"
    "  -o DIR         write the files into DIR (made if missing); '-' (default) prints\n"
    "                 them (systemd: each after a '# ==> NAME <==' line; kubernetes: one\n"
    "                 stream of documents for `kubectl apply -f -`)\n"
    "  --image IMAGE  the image with the workload and fleet's binaries\n"
    "  --namespace NS every object's namespace (default: kubectl's current one)\n"
    "  --approximate  export a schedule systemd would fire at other times (said in\n"
    "                 the timer and on stderr) instead of refusing it\n"
    "  --force        replace files in DIR that differ from what is exported\n";

int Usage(const std::string& why) {
  fprintf(stderr, "fleetctl export: %s\n%s", why.c_str(), kUsage);
  return kExitUsage;
}

}  // namespace

int ExportCommand(const std::vector<std::string>& args) {
  std::string target, config_path, out = "-";
  exporting::SystemdOptions options;
  options.fleetd = os::SelfExecutable();  // The units run this fleetd's sync-state and kill-watch.
  exporting::KubernetesOptions kubernetes;
  exporting::NomadOptions nomad;
  bool force = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-o" || arg == "--output") {
      if (i + 1 >= args.size()) return Usage(arg + " needs a value");
      out = args[++i];
    } else if (arg == "--image" || arg == "--namespace") {
      if (i + 1 >= args.size()) return Usage(arg + " needs a value");
      (arg == "--image" ? kubernetes.image : kubernetes.namespace_) = args[++i];
    } else if (arg == "--approximate") {
      options.approximate = kubernetes.approximate = nomad.approximate = true;
    } else if (arg == "--force") {
      force = true;
    } else if (arg == "-h" || arg == "--help") {
      printf("%s", kUsage);
      return kExitOk;
    } else if (!arg.empty() && arg[0] == '-') {
      return Usage("unknown flag " + arg);
    } else if (target.empty()) {
      target = arg;
    } else if (config_path.empty()) {
      config_path = arg;
    } else {
      return Usage("unexpected argument '" + arg + "'");
    }
  }
  if (target != "systemd" && target != "kubernetes" && target != "nomad") {
    return Usage(target.empty() ? "which target? (systemd, kubernetes, nomad)"
                                : "unknown target '" + target + "' (systemd, kubernetes, nomad)");
  }
  if (config_path.empty()) return Usage("which fleet file? (CONFIG)");
  absl::StatusOr<config::LoadedConfig> loaded = config::LoadConfig(config_path);
  if (!loaded.ok()) {
    fprintf(stderr, "%s\n", std::string(loaded.status().message()).c_str());
    return loaded.status().code() == absl::StatusCode::kNotFound ? kExitUsage : kExitBadConfig;
  }
  const bool systemd = target == "systemd";
  absl::StatusOr<exporting::Exported> exported =
      systemd                  ? exporting::ExportSystemd(*loaded, options)
      : target == "kubernetes" ? exporting::ExportKubernetes(*loaded, kubernetes)
                               : exporting::ExportNomad(*loaded, nomad);
  if (!exported.ok()) {
    fprintf(stderr, "fleetctl export: %s\n", std::string(exported.status().message()).c_str());
    return kExitFailure;
  }
  for (const std::string& w : exported->warnings) {
    fprintf(stderr, "fleetctl export: warning: %s\n", w.c_str());
  }
  if (out == "-") {
    for (const exporting::ExportedFile& f : exported->files) {
      if (target != "kubernetes") {
        printf("# ==> %s <==\n%s\n", f.name.c_str(), f.text.c_str());
      } else {
        printf("---\n%s", f.text.c_str());
      }
    }
    return kExitOk;
  }
  if (absl::Status made = os::MakeDirs(out, 0755); !made.ok()) {
    fprintf(stderr, "fleetctl export: %s\n", std::string(made.message()).c_str());
    return kExitFailure;
  }
  // Nothing the operator changed is replaced without --force: every file
  // is checked before any is written.
  for (const exporting::ExportedFile& f : exported->files) {
    const std::string path = os::JoinPath(out, f.name);
    // One open (no-follow, non-blocking, bounded) says both whether it is
    // there and what it holds.
    absl::StatusOr<std::string> existing = os::ReadUntrustedFile(path, 1 << 20);
    if (absl::IsNotFound(existing.status())) continue;  // New: nothing to lose.
    if (!existing.ok() && !force) {
      // Too large, unreadable, not a regular file: not ours to replace.
      fprintf(stderr,
              "fleetctl export: %s exists and cannot be compared with the export (%s); nothing "
              "was written. --force replaces it.\n",
              path.c_str(), std::string(existing.status().message()).c_str());
      return kExitFailure;
    }
    if (existing.ok() && *existing != f.text && !force) {
      fprintf(stderr,
              "fleetctl export: %s exists and differs from the export (changed by hand?); "
              "nothing was written. --force replaces it.\n",
              path.c_str());
      return kExitFailure;
    }
  }
  for (const exporting::ExportedFile& f : exported->files) {
    const std::string path = os::JoinPath(out, f.name);
    if (absl::Status written = os::WriteFileAtomic(path, f.text, 0644); !written.ok()) {
      fprintf(stderr, "fleetctl export: %s\n", std::string(written.message()).c_str());
      return kExitFailure;
    }
    printf("%s\n", path.c_str());
  }
  return kExitOk;
}

}  // namespace fleet::daemon
