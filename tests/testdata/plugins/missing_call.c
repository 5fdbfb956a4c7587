/* No call function. */
#include "tests/testdata/plugins/fixture_common.h"

static const fleet_plugin_api_v1 kApi = {sizeof(fleet_plugin_api_v1), FLEET_PLUGIN_ABI_VERSION, "test.health.missing_call", "health", "1.0.0", Create, NULL, Destroy};
const fleet_plugin_api_v1* fleet_plugin_v1(void) { (void)Call; return &kApi; }
