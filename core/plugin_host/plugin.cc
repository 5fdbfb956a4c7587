#include "core/plugin_host/plugin.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/log/log.h"

namespace fleet::plugin_host {
namespace {

// The smallest v1 table: everything up to and including destroy.
constexpr size_t kMinApiSize = offsetof(fleet_plugin_api_v1, destroy) + sizeof(void*);

absl::Status Refuse(const std::string& path, const std::string& why) {
  return absl::FailedPreconditionError(absl::StrCat("plugin ", path, ": ", why));
}

std::string BytesToString(const fleet_bytes& b) {
  if (b.data == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(b.data), b.size);
}

absl::StatusCode CodeOf(int32_t code) {
  if (code < 0 || code > 16) return absl::StatusCode::kInternal;
  return static_cast<absl::StatusCode>(code);
}

void HostLog(void* ctx, int32_t severity, const char* message, size_t length) {
  const auto* name = static_cast<const std::string*>(ctx);
  std::string line = absl::StrCat("plugin ", *name, ": ",
                                  absl::string_view(message != nullptr ? message : "", length));
  log::Write(severity >= FLEET_LOG_ERROR     ? log::Severity::kError
             : severity == FLEET_LOG_WARNING ? log::Severity::kWarning
                                             : log::Severity::kInfo,
             line);
}

// Whoever can write the file, or replace it in its directory, can run code
// as fleetd: both must be fleetd's uid's (or root's) alone.
absl::Status CheckOwnedAndPrivate(const std::string& what, const std::string& path,
                                  const struct stat& st) {
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "plugin %s: refused: %s is group- or world-writable (mode %04o); run chmod go-w on it",
        what, path, st.st_mode & 07777));
  }
  if (st.st_uid != ::getuid() && st.st_uid != 0) {
    return absl::PermissionDeniedError(absl::StrCat("plugin ", what, ": refused: ", path,
                                                    " is owned by uid ", st.st_uid,
                                                    ", not by fleetd's uid ", ::getuid(),
                                                    " or root"));
  }
  return absl::OkStatus();
}

// A sealed in-memory copy of the open file: the code fleetd maps can then
// not change under it (a plugin .so overwritten in place crashed fleetd at
// its next call; replacing it by rename never did). -1 on failure, with why.
int PrivateCopy(int fd, const std::string& path, std::string* why) {
  const int copy = ::memfd_create(absl::StrCat("fleet-plugin:", path).c_str(),
                                  MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (copy < 0) {
    *why = absl::StrCat("memfd_create: ", strerror(errno));
    return -1;
  }
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *why = absl::StrCat("read: ", strerror(errno));
      ::close(copy);
      return -1;
    }
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(copy, buffer + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        *why = absl::StrCat("copy: ", strerror(errno));
        ::close(copy);
        return -1;
      }
      done += w;
    }
  }
  ::fcntl(copy, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  return copy;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Plugin>> Plugin::Load(const std::string& path,
                                                     const std::string& expected_kind) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("plugin ", path, ": no such file"));
    return Refuse(path, absl::StrCat("cannot be opened: ", strerror(errno)));
  }
  // Judged on the open file, which is what gets loaded.
  struct stat st, dir;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Refuse(path, "not a regular file");
  }
  absl::Status owned = CheckOwnedAndPrivate(path, path, st);
  const std::string parent = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/') + 1);
  if (owned.ok() && ::stat(parent.c_str(), &dir) == 0) {
    owned = CheckOwnedAndPrivate(path, parent, dir);
  }
  if (!owned.ok()) {
    ::close(fd);
    return owned;
  }
  std::string why;
  const int copy = PrivateCopy(fd, path, &why);
  ::close(fd);
  if (copy < 0) return Refuse(path, absl::StrCat("cannot be copied to load: ", why));
  void* handle = ::dlopen(absl::StrCat("/proc/self/fd/", copy).c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    ::close(copy);
    const char* error = ::dlerror();
    return Refuse(path, absl::StrCat("cannot be loaded: ", error != nullptr ? error : "?"));
  }
  auto fail = [&](const std::string& why) {
    ::dlclose(handle);  // Never used: safe to unload.
    ::close(copy);
    return Refuse(path, why);
  };
  using Entry = const fleet_plugin_api_v1* (*)();
  auto entry = reinterpret_cast<Entry>(::dlsym(handle, "fleet_plugin_v1"));
  if (entry == nullptr) {
    for (int v = 2; v <= 9; ++v) {
      if (::dlsym(handle, absl::StrCat("fleet_plugin_v", v).c_str()) != nullptr) {
        return fail(absl::StrCat("built for plugin ABI v", v, "; this fleetd speaks v1"));
      }
    }
    return fail("exports no fleet_plugin_v1 symbol (not a fleet plugin?)");
  }
  const fleet_plugin_api_v1* api = entry();
  if (api == nullptr) return fail("fleet_plugin_v1() returned NULL");
  if (api->struct_size < kMinApiSize) {
    return fail(absl::StrCat("its plugin table is ", api->struct_size,
                             " bytes; ABI v1 needs at least ", kMinApiSize));
  }
  auto plugin = std::unique_ptr<Plugin>(new Plugin());
  // Tail-grown struct: copy what both sides know into a zeroed table.
  std::memcpy(&plugin->api_, api, std::min<size_t>(api->struct_size, sizeof(plugin->api_)));
  const fleet_plugin_api_v1& a = plugin->api_;
  if (a.abi_version != FLEET_PLUGIN_ABI_VERSION) {
    return fail(absl::StrCat("built for ABI version ", a.abi_version, "; this fleetd speaks ",
                             FLEET_PLUGIN_ABI_VERSION));
  }
  if (a.name == nullptr || a.name[0] == '\0') return fail("has no name");
  if (a.kind == nullptr || a.version == nullptr) return fail("has no kind or version");
  if (a.create == nullptr) return fail("has no create function");
  if (a.call == nullptr) return fail("has no call function");
  if (a.destroy == nullptr) return fail("has no destroy function");
  if (expected_kind != a.kind) {
    return fail(absl::StrCat("is a '", a.kind, "' plugin (", a.name, "), not '", expected_kind, "'"));
  }
  plugin->path_ = path;
  plugin->name_ = a.name;
  plugin->kind_ = a.kind;
  plugin->version_ = a.version;
  plugin->handle_ = handle;
  plugin->copy_fd_ = copy;
  return plugin;
}

Plugin::~Plugin() {
  // Code from the plugin may still be referenced (static destructors, a
  // thread it should not have left): keep it mapped unless never used.
  if (handle_ != nullptr && !used_) {
    ::dlclose(handle_);
    ::close(copy_fd_);
  }
}

absl::StatusOr<std::unique_ptr<PluginInstance>> Plugin::Create(const std::string& config) {
  used_ = true;
  auto inst = std::unique_ptr<PluginInstance>(new PluginInstance());
  inst->name_ = name_;
  inst->api_ = api_;
  inst->host_ = std::make_unique<fleet_host_v1>();
  inst->host_->struct_size = sizeof(fleet_host_v1);
  inst->host_->ctx = &inst->name_;
  inst->host_->log = &HostLog;
  fleet_bytes bytes{reinterpret_cast<const uint8_t*>(config.data()), config.size()};
  fleet_bytes error{nullptr, 0};
  int32_t code = api_.create(inst->host_.get(), bytes, &inst->instance_, &error);
  if (code != 0) {
    return absl::Status(CodeOf(code), absl::StrCat("plugin ", name_, " (", path_,
                                                   ") refused to start: ", BytesToString(error)));
  }
  return inst;
}

PluginInstance::~PluginInstance() {
  if (instance_ != nullptr) api_.destroy(instance_);
}

absl::StatusOr<std::string> PluginInstance::Call(uint32_t method, const std::string& request,
                                                 absl::Duration /*timeout*/) {
  fleet_bytes in{reinterpret_cast<const uint8_t*>(request.data()), request.size()};
  fleet_bytes response{nullptr, 0}, error{nullptr, 0};
  int32_t code = api_.call(instance_, method, in, &response, &error);
  if (code != 0) {
    return absl::Status(CodeOf(code), absl::StrCat("plugin ", name_, ": ", BytesToString(error)));
  }
  return BytesToString(response);
}

}  // namespace fleet::plugin_host
