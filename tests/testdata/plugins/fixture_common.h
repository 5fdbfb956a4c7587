/* The do-nothing create/call/destroy shared by the loader fixtures: each
 * fixture differs from a valid plugin only in its table or entry symbol. */
#ifndef FLEET_TESTS_TESTDATA_PLUGINS_FIXTURE_COMMON_H_
#define FLEET_TESTS_TESTDATA_PLUGINS_FIXTURE_COMMON_H_

#include <stddef.h>

#include "plugins/sdk/fleet_plugin.h"

static int32_t Create(const fleet_host_v1* host, fleet_bytes config, void** instance,
                      fleet_bytes* error) {
  (void)host;
  (void)config;
  (void)error;
  *instance = (void*)1;
  return 0;
}

/* Answers every call with an empty result. */
static int32_t Call(void* instance, uint32_t method, fleet_bytes request, fleet_bytes* response,
                    fleet_bytes* error) {
  (void)instance;
  (void)method;
  (void)request;
  (void)error;
  response->data = NULL;
  response->size = 0;
  return 0;
}

static void Destroy(void* instance) { (void)instance; }

#endif /* FLEET_TESTS_TESTDATA_PLUGINS_FIXTURE_COMMON_H_ */
