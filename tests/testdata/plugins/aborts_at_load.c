/* A valid plugin table behind a library constructor that aborts: dlopen()
   itself kills whoever maps it, before any ABI check can look. */
#include <stdlib.h>
#include "plugins/sdk/fleet_plugin.h"

__attribute__((constructor)) static void AbortAtLoad(void) { abort(); }

static int32_t Create(const fleet_host_v1* host, fleet_bytes config, void** instance, fleet_bytes* error) {
  (void)host; (void)config; (void)error;
  *instance = (void*)1;
  return 0;
}
static int32_t Call(void* instance, uint32_t method, fleet_bytes request, fleet_bytes* response, fleet_bytes* error) {
  (void)instance; (void)method; (void)request; (void)response; (void)error;
  return 0;
}
static void Destroy(void* instance) { (void)instance; }

static const fleet_plugin_api_v1 kApi = {sizeof(fleet_plugin_api_v1), FLEET_PLUGIN_ABI_VERSION,
  "test.health.aborts_at_load", "health", "1.0.0", Create, Call, Destroy};
const fleet_plugin_api_v1* fleet_plugin_v1(void) { return &kApi; }
