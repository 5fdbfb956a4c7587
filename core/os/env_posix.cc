#include "core/os/env.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

namespace fleet::os {
namespace {

class PosixEnv final : public Env {
 public:
  int Open(const char* path, int flags, mode_t mode) override {
    return ::open(path, flags, mode);
  }
  ssize_t Read(int fd, void* buffer, size_t size) override { return ::read(fd, buffer, size); }
  ssize_t Write(int fd, const void* data, size_t size) override {
    return ::write(fd, data, size);
  }
  int Fsync(int fd) override { return ::fsync(fd); }
  int Rename(const char* from, const char* to) override { return ::rename(from, to); }
  int Unlink(const char* path) override { return ::unlink(path); }
  int Mkdir(const char* path, mode_t mode) override { return ::mkdir(path, mode); }
  absl::StatusOr<pid_t> Spawn(const SpawnSpec& spec) override { return os::Spawn(spec); }
  bool SignalGroup(pid_t pgid, int sig) override { return os::SignalGroup(pgid, sig); }
};

std::atomic<Env*> g_env{nullptr};

}  // namespace

const char* EnvOpName(EnvOp op) {
  static constexpr const char* kNames[kEnvOpCount] = {
      "open", "read", "write", "fsync", "rename", "unlink", "mkdir", "spawn", "signal"};
  return kNames[static_cast<int>(op)];
}

Env* DefaultEnv() {
  static PosixEnv* env = new PosixEnv();  // Never destroyed: used until exit.
  return env;
}

Env* CurrentEnv() {
  Env* env = g_env.load(std::memory_order_acquire);
  return env != nullptr ? env : DefaultEnv();
}

void SetEnvForTesting(Env* env) { g_env.store(env, std::memory_order_release); }

}  // namespace fleet::os
