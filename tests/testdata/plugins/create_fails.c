/* create() refuses with a message. */
#include "tests/testdata/plugins/fixture_common.h"

static const char kError[] = "no configuration accepted";

static int32_t Refuse(const fleet_host_v1* host, fleet_bytes config, void** instance, fleet_bytes* error) {
  (void)host; (void)config; (void)instance; (void)Create;
  error->data = (const uint8_t*)kError;
  error->size = sizeof(kError) - 1;
  return 3;
}
static const fleet_plugin_api_v1 kApi = {sizeof(fleet_plugin_api_v1), FLEET_PLUGIN_ABI_VERSION, "test.health.create_fails", "health", "1.0.0", Refuse, Call, Destroy};
const fleet_plugin_api_v1* fleet_plugin_v1(void) { return &kApi; }
