// com.example.health.disk_free: a third-party health check, written against
// fleet's installed SDK and built with plain g++ (see build.sh).
//
// An engine is unhealthy when the file system holding `path` has less than
// `min_free_mb` free:
//
//   plugins:
//     - {file: /opt/fleet-plugins/libcom_example_disk_free.so, kind: health}
//   engines:
//     - name: scraper
//       command: [...]
//       health:
//         check: com.example.health.disk_free
//         plugin: {path: /var/lib/scraper, min_free_mb: 500}
#include <sys/statvfs.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "plugins/sdk/sdk.h"
#include "proto/fleet/plugin/v1/health.pb.h"

namespace {

class DiskFree {
 public:
  static std::unique_ptr<DiskFree> Create(const fleet::sdk::Host& host, const std::string&,
                                          std::string*) {
    host.Info("disk_free ready");
    return std::make_unique<DiskFree>();
  }

  bool Check(const fleet::plugin::v1::HealthCheckRequest& request,
             fleet::plugin::v1::HealthCheckResult* result, std::string* error) {
    const auto& params = request.spec().params();
    auto path = params.find("path");
    auto min = params.find("min_free_mb");
    if (path == params.end() || min == params.end()) {
      *error = "disk_free needs health.plugin.path and health.plugin.min_free_mb";
      return false;
    }
    struct statvfs fs;
    if (statvfs(path->second.c_str(), &fs) != 0) {
      result->set_verdict(fleet::plugin::v1::VERDICT_UNHEALTHY);
      result->set_reason("cannot stat " + path->second);
      return true;
    }
    const double free_mb = static_cast<double>(fs.f_bavail) * fs.f_frsize / (1024.0 * 1024.0);
    const double wanted = std::strtod(min->second.c_str(), nullptr);
    const bool ok = free_mb >= wanted;
    result->set_verdict(ok ? fleet::plugin::v1::VERDICT_HEALTHY
                           : fleet::plugin::v1::VERDICT_UNHEALTHY);
    result->set_reason("free space on " + path->second + " is " +
                       std::to_string(static_cast<long>(free_mb)) + " MB" +
                       (ok ? " >= " : " < ") + min->second + " MB");
    return true;
  }
};

}  // namespace

FLEET_HEALTH_PLUGIN(DiskFree, "com.example.health.disk_free", "1.0.0")
