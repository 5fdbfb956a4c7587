// An Env (core/os/env.h) that counts every operation (file, spawn, signal)
// by kind and fails the N-th call of one kind with a chosen errno (or
// delays it): the tool of the N-th-failure sweep (tests/fault/env_sweep_test).
#ifndef FLEET_TESTS_FAKES_FAULT_ENV_H_
#define FLEET_TESTS_FAKES_FAULT_ENV_H_

#include <errno.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "core/os/env.h"

namespace fleet::testing {

class FaultEnv : public os::EnvWrapper {
 public:
  explicit FaultEnv(os::Env* target) : os::EnvWrapper(target) {}

  // The nth call (1-based) of op fails with error; 0: none fails.
  void FailNth(os::EnvOp op, uint64_t nth, int error) {
    fail_op_ = op;
    fail_error_ = error;
    fail_nth_.store(nth);
  }
  // Every call of op first sleeps this long (a slow disk).
  void Delay(os::EnvOp op, useconds_t micros) { delay_[static_cast<int>(op)] = micros; }

  uint64_t count(os::EnvOp op) const { return counts_[static_cast<int>(op)].load(); }
  bool fired() const { return fired_.load(); }

  int Open(const char* path, int flags, mode_t mode) override {
    return Enter(os::EnvOp::kOpen) ? target()->Open(path, flags, mode) : -1;
  }
  ssize_t Read(int fd, void* buffer, size_t size) override {
    return Enter(os::EnvOp::kRead) ? target()->Read(fd, buffer, size) : -1;
  }
  ssize_t Write(int fd, const void* data, size_t size) override {
    return Enter(os::EnvOp::kWrite) ? target()->Write(fd, data, size) : -1;
  }
  int Fsync(int fd) override { return Enter(os::EnvOp::kFsync) ? target()->Fsync(fd) : -1; }
  int Rename(const char* from, const char* to) override {
    return Enter(os::EnvOp::kRename) ? target()->Rename(from, to) : -1;
  }
  int Unlink(const char* path) override {
    return Enter(os::EnvOp::kUnlink) ? target()->Unlink(path) : -1;
  }
  int Mkdir(const char* path, mode_t mode) override {
    return Enter(os::EnvOp::kMkdir) ? target()->Mkdir(path, mode) : -1;
  }
  absl::StatusOr<pid_t> Spawn(const os::SpawnSpec& spec) override {
    if (!Enter(os::EnvOp::kSpawn)) return absl::ErrnoToStatus(errno, "fork (injected)");
    return target()->Spawn(spec);
  }
  bool SignalGroup(pid_t pgid, int sig) override {
    return Enter(os::EnvOp::kSignal) && target()->SignalGroup(pgid, sig);
  }

 private:
  // Counts the call; false (errno set) when it is the one to fail.
  bool Enter(os::EnvOp op) {
    const int i = static_cast<int>(op);
    const uint64_t n = ++counts_[i];
    if (delay_[i] > 0) ::usleep(delay_[i]);
    if (op == fail_op_ && n == fail_nth_.load()) {
      fired_.store(true);
      errno = fail_error_;
      return false;
    }
    return true;
  }

  std::array<std::atomic<uint64_t>, os::kEnvOpCount> counts_{};
  std::array<useconds_t, os::kEnvOpCount> delay_{};
  os::EnvOp fail_op_ = os::EnvOp::kOpen;
  int fail_error_ = EIO;
  std::atomic<uint64_t> fail_nth_{0};
  std::atomic<bool> fired_{false};
};

}  // namespace fleet::testing

#endif  // FLEET_TESTS_FAKES_FAULT_ENV_H_
