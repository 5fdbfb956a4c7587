// A C++ plugin written with the SDK, answering a fixed verdict (compiled twice
// from this file with different defines: two plugins from one proto).
#include <memory>
#include <string>

#include "plugins/sdk/sdk.h"
#include "proto/fleet/plugin/v1/health.pb.h"

namespace {

class FixedVerdict {
 public:
  static std::unique_ptr<FixedVerdict> Create(const fleet::sdk::Host& host, const std::string&,
                                              std::string*) {
    host.Info("fixed verdict plugin ready");
    return std::make_unique<FixedVerdict>();
  }
  bool Check(const fleet::plugin::v1::HealthCheckRequest& request,
             fleet::plugin::v1::HealthCheckResult* result, std::string*) {
    result->set_verdict(FIXTURE_VERDICT);
    result->set_reason(std::string(FIXTURE_REASON) + " for " + request.engine());
    return true;
  }
};

}  // namespace

FLEET_HEALTH_PLUGIN(FixedVerdict, FIXTURE_NAME, "1.0.0")
