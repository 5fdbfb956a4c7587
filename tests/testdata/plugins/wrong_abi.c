/* Claims ABI version 7 in the v1 symbol. */
#include "tests/testdata/plugins/fixture_common.h"

static const fleet_plugin_api_v1 kApi = {sizeof(fleet_plugin_api_v1), 7, "test.health.wrong_abi", "health", "1.0.0", Create, Call, Destroy};
const fleet_plugin_api_v1* fleet_plugin_v1(void) { return &kApi; }
