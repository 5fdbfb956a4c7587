/* A table cut short before destroy (an old or broken build). */
#include "tests/testdata/plugins/fixture_common.h"

static const fleet_plugin_api_v1 kApi = {16, FLEET_PLUGIN_ABI_VERSION, "test.health.short", "health", "1.0.0", Create, Call, Destroy};
const fleet_plugin_api_v1* fleet_plugin_v1(void) { return &kApi; }
