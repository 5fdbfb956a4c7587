/* Exports only a future ABI's symbol. */
#include "tests/testdata/plugins/fixture_common.h"

static const fleet_plugin_api_v1 kApi = {sizeof(fleet_plugin_api_v1), 2, "test.health.v2", "health", "2.0.0", Create, Call, Destroy};
FLEET_PLUGIN_EXPORT const fleet_plugin_api_v1* fleet_plugin_v2(void) { return &kApi; }
