// The header-only C++ SDK over fleet_plugin.h. A health check is one class:
//
//   class MyCheck {
//    public:
//     static std::unique_ptr<MyCheck> Create(const fleet::sdk::Host& host,
//                                            const std::string& config, std::string* error);
//     bool Check(const fleet::plugin::v1::HealthCheckRequest& request,
//                fleet::plugin::v1::HealthCheckResult* result, std::string* error);
//   };
//   FLEET_HEALTH_PLUGIN(MyCheck, "com.example.health.mine", "1.0.0")
//
// A sync plugin is the same with Sync(const SyncRequest&, SyncResult*,
// std::string*) and FLEET_SYNC_PLUGIN; a recovery plugin with
// Recover(const RecoveryRequest&, RecoveryPlan*, std::string*) and
// FLEET_RECOVERY_PLUGIN. The method returns true (answered),
// false (could not: INTERNAL, with *error), or a fleet::sdk::Outcome to say
// the request itself is wrong (kBadRequest: INVALID_ARGUMENT, with *error;
// the host does not retry it as is). Include the payload header of your
// kind (proto/fleet/plugin/v1/health.pb.h or sync.pb.h) yourself: the SDK
// needs none, so a health check never has to generate the sync protos.
//
// `config` is the plugin's YAML `config:` block as JSON text (possibly empty);
// per-engine settings arrive in request.spec().params(). Uses std
// types only (no absl); throws nothing across the ABI: every exception becomes
// INTERNAL with its message.
#ifndef FLEET_PLUGINS_SDK_SDK_H_
#define FLEET_PLUGINS_SDK_SDK_H_

#include <exception>
#include <memory>
#include <string>

#include "plugins/sdk/fleet_plugin.h"

namespace fleet::sdk {

inline constexpr int32_t kOk = 0;
inline constexpr int32_t kInvalidArgument = 3;
inline constexpr int32_t kUnimplemented = 12;
inline constexpr int32_t kInternal = 13;

// What a call can answer besides a result.
enum class Outcome { kOk, kBadRequest, kFailed };

// The host's services, for the plugin's lifetime.
class Host {
 public:
  explicit Host(const fleet_host_v1* host) : host_(host) {}
  void Log(int32_t severity, const std::string& message) const {
    if (host_ != nullptr && host_->log != nullptr) {
      host_->log(host_->ctx, severity, message.data(), message.size());
    }
  }
  void Info(const std::string& message) const { Log(FLEET_LOG_INFO, message); }
  void Warning(const std::string& message) const { Log(FLEET_LOG_WARNING, message); }

 private:
  const fleet_host_v1* host_;
};

namespace internal {

inline int32_t ToCode(bool answered) { return answered ? kOk : kInternal; }
inline int32_t ToCode(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk:
      return kOk;
    case Outcome::kBadRequest:
      return kInvalidArgument;
    case Outcome::kFailed:
      break;
  }
  return kInternal;
}

inline fleet_bytes Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Keeps create()'s error alive until the next create(), as the ABI promises.
inline std::string& CreateError() {
  static thread_local std::string error;
  return error;
}

template <typename Impl>
struct Instance {
  Host host;
  std::unique_ptr<Impl> impl;
  std::string response;  // valid until the next call
  std::string error;
};

// The C ABI for one kind: Impl::Create, and `Fn` for the kind's method
// (returning bool or Outcome).
template <typename Impl, typename Request, typename Result, uint32_t kMethod, auto Fn>
struct Adapter {
  static int32_t Create(const fleet_host_v1* host, fleet_bytes config, void** out,
                        fleet_bytes* error) noexcept {
    std::string& message = CreateError();
    try {
      auto inst = std::make_unique<Instance<Impl>>(Instance<Impl>{Host(host), nullptr, {}, {}});
      message.clear();
      inst->impl = Impl::Create(inst->host,
                                std::string(reinterpret_cast<const char*>(config.data), config.size),
                                &message);
      if (inst->impl == nullptr) {
        if (message.empty()) message = "plugin refused its configuration";
        *error = Bytes(message);
        return kInvalidArgument;
      }
      *out = inst.release();
      return kOk;
    } catch (const std::exception& e) {
      message = std::string("create threw: ") + e.what();
    } catch (...) {
      message = "create threw a non-standard exception";
    }
    *error = Bytes(message);
    return kInternal;
  }

  static int32_t Call(void* instance, uint32_t method, fleet_bytes request, fleet_bytes* response,
                      fleet_bytes* error) noexcept {
    auto* inst = static_cast<Instance<Impl>*>(instance);
    try {
      inst->error.clear();
      if (method != kMethod) {
        inst->error = "unknown method " + std::to_string(method);
        *error = Bytes(inst->error);
        return kUnimplemented;
      }
      Request req;
      if (!req.ParseFromArray(request.data, static_cast<int>(request.size))) {
        inst->error = "request does not parse";
        *error = Bytes(inst->error);
        return kInvalidArgument;
      }
      Result result;
      const int32_t code = ToCode(((*inst->impl).*Fn)(req, &result, &inst->error));
      if (code != kOk) {
        if (inst->error.empty()) inst->error = "the plugin gave no reason";
        *error = Bytes(inst->error);
        return code;
      }
      inst->response = result.SerializeAsString();
      *response = Bytes(inst->response);
      return kOk;
    } catch (const std::exception& e) {
      inst->error = std::string("call threw: ") + e.what();
    } catch (...) {
      inst->error = "call threw a non-standard exception";
    }
    *error = Bytes(inst->error);
    return kInternal;
  }

  static void Destroy(void* instance) noexcept {
    try {
      delete static_cast<Instance<Impl>*>(instance);
    } catch (...) {
    }
  }
};

}  // namespace internal
}  // namespace fleet::sdk

// Defines fleet_plugin_v1() for the adapter type given last (it has commas).
#define FLEET_PLUGIN_TABLE_(NAME, KIND, VERSION, ...)                             \
  using fleet_plugin_adapter_t = __VA_ARGS__;                                     \
  extern "C" FLEET_PLUGIN_EXPORT const fleet_plugin_api_v1* fleet_plugin_v1(void) { \
    static const fleet_plugin_api_v1 api = {                                      \
        sizeof(fleet_plugin_api_v1),       FLEET_PLUGIN_ABI_VERSION,              \
        NAME,                              KIND,                                  \
        VERSION,                           &fleet_plugin_adapter_t::Create,       \
        &fleet_plugin_adapter_t::Call,     &fleet_plugin_adapter_t::Destroy,      \
    };                                                                            \
    return &api;                                                                  \
  }

// A health check: CheckClass::Check(const HealthCheckRequest&, HealthCheckResult*, std::string*).
#define FLEET_HEALTH_PLUGIN(CheckClass, NAME, VERSION)                                  \
  FLEET_PLUGIN_TABLE_(NAME, "health", VERSION,                                          \
                      ::fleet::sdk::internal::Adapter<                                  \
                          CheckClass, ::fleet::plugin::v1::HealthCheckRequest,          \
                          ::fleet::plugin::v1::HealthCheckResult,                       \
                          FLEET_METHOD_HEALTH_CHECK, &CheckClass::Check>)

// A sync plugin: SyncClass::Sync(const SyncRequest&, SyncResult*, std::string*).
#define FLEET_SYNC_PLUGIN(SyncClass, NAME, VERSION)                                          \
  FLEET_PLUGIN_TABLE_(NAME, "sync", VERSION,                                                 \
                      ::fleet::sdk::internal::Adapter<                                       \
                          SyncClass, ::fleet::plugin::v1::SyncRequest,                       \
                          ::fleet::plugin::v1::SyncResult, FLEET_METHOD_SYNC, &SyncClass::Sync>)

// A recovery plugin: RecoveryClass::Recover(const RecoveryRequest&, RecoveryPlan*, std::string*).
#define FLEET_RECOVERY_PLUGIN(RecoveryClass, NAME, VERSION)                                  \
  FLEET_PLUGIN_TABLE_(NAME, "recovery", VERSION,                                             \
                      ::fleet::sdk::internal::Adapter<                                       \
                          RecoveryClass, ::fleet::plugin::v1::RecoveryRequest,               \
                          ::fleet::plugin::v1::RecoveryPlan, FLEET_METHOD_RECOVER,           \
                          &RecoveryClass::Recover>)

#endif  // FLEET_PLUGINS_SDK_SDK_H_
