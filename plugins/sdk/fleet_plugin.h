/* fleet's plugin contract, version 1: pure C99, no C++ types, no exceptions,
 * no allocation crossing the boundary. Payloads are serialized protobuf
 * messages (proto/fleet/plugin/v1, LITE_RUNTIME); the ABI stays a few
 * functions while features grow in .proto files.
 *
 * A plugin is a shared object exporting one symbol, fleet_plugin_v1(). An
 * incompatible v2 would export fleet_plugin_v2. Structs grow only at their
 * tail: the host copies min(struct_size, sizeof) bytes into a zeroed struct,
 * so fields a plugin does not know read as 0/NULL.
 *
 * Errors: every fallible function returns an absl::StatusCode / google.rpc.Code
 * number (0 = OK, 3 = INVALID_ARGUMENT, 4 = DEADLINE_EXCEEDED, 13 = INTERNAL...)
 * and may set *error to a UTF-8 message. */
#ifndef FLEET_PLUGINS_SDK_FLEET_PLUGIN_H_
#define FLEET_PLUGINS_SDK_FLEET_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FLEET_PLUGIN_ABI_VERSION 1u
#define FLEET_PLUGIN_EXPORT __attribute__((visibility("default")))

/* A byte string. OWNERSHIP: stated where each one is passed. */
typedef struct fleet_bytes {
  const uint8_t* data;
  size_t size;
} fleet_bytes;

enum fleet_log_severity { FLEET_LOG_INFO = 0, FLEET_LOG_WARNING = 1, FLEET_LOG_ERROR = 2 };

/* Methods of each kind, for call(). */
enum fleet_method {
  /* health: fleet.plugin.v1.HealthCheckRequest -> HealthCheckResult */
  FLEET_METHOD_HEALTH_CHECK = 1,
  /* sync: fleet.plugin.v1.SyncRequest -> SyncResult */
  FLEET_METHOD_SYNC = 2,
  /* recovery: fleet.plugin.v1.RecoveryRequest -> RecoveryPlan */
  FLEET_METHOD_RECOVER = 3
};

/* What the host offers a plugin. OWNERSHIP: host; valid until destroy()
 * returns. */
typedef struct fleet_host_v1 {
  uint32_t struct_size;
  void* ctx;
  /* Writes one line to fleetd's log, attributed to the plugin. Thread-safe. */
  void (*log)(void* ctx, int32_t severity, const char* message, size_t length);
} fleet_host_v1;

/* What a plugin offers. OWNERSHIP: plugin; static storage. */
typedef struct fleet_plugin_api_v1 {
  /* sizeof(fleet_plugin_api_v1) as the plugin was compiled. */
  uint32_t struct_size;
  /* FLEET_PLUGIN_ABI_VERSION the plugin was compiled against. */
  uint32_t abi_version;
  /* Reverse-DNS name ("fleet.health.builtin"), kind ("health", "sync" or
   * "recovery"), and the plugin's own version ("1.2.0"). */
  const char* name;
  const char* kind;
  const char* version;

  /* Makes an instance from config: the plugin's `config:` settings from the
   * YAML as a UTF-8 JSON object (may be empty). Runs on fleetd's supervisor
   * thread (or in its helper process under isolation: process).
   * @param host     OWNERSHIP: host, valid until destroy(*instance) returns.
   * @param config   OWNERSHIP: host, valid for this call only.
   * @param instance set on success; passed back to call() and destroy().
   * @param error    set on failure. OWNERSHIP: plugin, valid until the next
   *                 create() call.
   * @return 0 or an error code. */
  int32_t (*create)(const fleet_host_v1* host, fleet_bytes config, void** instance,
                    fleet_bytes* error);

  /* Runs one method. Called from a worker thread, never concurrently on one
   * instance. The request carries its deadline; the host stops waiting then.
   * @param request  OWNERSHIP: host, valid for this call only.
   * @param response set on success. OWNERSHIP: plugin, valid until the next
   *                 call on this instance or destroy().
   * @param error    set on failure. OWNERSHIP: as response.
   * @return 0 or an error code (12 = UNIMPLEMENTED for an unknown method). */
  int32_t (*call)(void* instance, uint32_t method, fleet_bytes request, fleet_bytes* response,
                  fleet_bytes* error);

  /* Frees an instance. Runs on fleetd's supervisor thread. */
  void (*destroy)(void* instance);
  /* v1 grows here, at the end only. */
} fleet_plugin_api_v1;

/* The only exported symbol. Plugins must not fork, install signal handlers,
 * reap children, call exit(), or leave threads running. */
FLEET_PLUGIN_EXPORT const fleet_plugin_api_v1* fleet_plugin_v1(void);

#ifdef __cplusplus
}
#endif

#endif /* FLEET_PLUGINS_SDK_FLEET_PLUGIN_H_ */
