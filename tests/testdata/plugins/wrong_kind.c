/* A sync plugin offered where a health plugin is wanted. */
#include "tests/testdata/plugins/fixture_common.h"

static const fleet_plugin_api_v1 kApi = {sizeof(fleet_plugin_api_v1), FLEET_PLUGIN_ABI_VERSION, "test.sync.other", "sync", "1.0.0", Create, Call, Destroy};
const fleet_plugin_api_v1* fleet_plugin_v1(void) { return &kApi; }
