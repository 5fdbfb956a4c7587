// What fleetd asks of the operating system for its own state and its
// instances, behind one interface (LevelDB's Env): file operations, and
// starting and signalling processes. The real one, and in tests a wrapper
// (tests/fakes/fault_env.h) that fails or delays the N-th call of a kind,
// so a test can sweep a failure over every operation of a whole scenario.
// The file calls have the syscalls' shapes: -1 and errno on failure.
//
// core/os's file helpers (files.h), the supervisor's spawns and its signals
// to instances go through CurrentEnv(); production code never sets it.
// (The clock is os::Clock, injected on its own; inotify and timers are
// the loop's own descriptors and stay direct.)
#ifndef FLEET_CORE_OS_ENV_H_
#define FLEET_CORE_OS_ENV_H_

#include <sys/types.h>

#include <cstddef>

#include "absl/status/statusor.h"
#include "core/os/process.h"

namespace fleet::os {

// The kinds of call an Env makes, for counting and for choosing which fails.
enum class EnvOp { kOpen, kRead, kWrite, kFsync, kRename, kUnlink, kMkdir, kSpawn, kSignal };
inline constexpr int kEnvOpCount = 9;
const char* EnvOpName(EnvOp op);  // "open", "read", ...

class Env {
 public:
  virtual ~Env() = default;
  virtual int Open(const char* path, int flags, mode_t mode) = 0;
  virtual ssize_t Read(int fd, void* buffer, size_t size) = 0;
  virtual ssize_t Write(int fd, const void* data, size_t size) = 0;
  virtual int Fsync(int fd) = 0;
  virtual int Rename(const char* from, const char* to) = 0;
  virtual int Unlink(const char* path) = 0;
  virtual int Mkdir(const char* path, mode_t mode) = 0;
  // os::Spawn's contract (process.h).
  virtual absl::StatusOr<pid_t> Spawn(const SpawnSpec& spec) = 0;
  // sig to process group pgid (kill(-pgid, sig)); false (errno set) when
  // it could not be sent.
  virtual bool SignalGroup(pid_t pgid, int sig) = 0;
};

// The operating system itself. Never null; lives for the process.
Env* DefaultEnv();

// The Env the file helpers use: DefaultEnv() unless a test installed one.
Env* CurrentEnv();
// Tests only, before any thread that does file I/O starts; env outlives
// every use (null: back to the default).
void SetEnvForTesting(Env* env);

// Forwards every call to another Env; override what should differ.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  int Open(const char* path, int flags, mode_t mode) override {
    return target_->Open(path, flags, mode);
  }
  ssize_t Read(int fd, void* buffer, size_t size) override {
    return target_->Read(fd, buffer, size);
  }
  ssize_t Write(int fd, const void* data, size_t size) override {
    return target_->Write(fd, data, size);
  }
  int Fsync(int fd) override { return target_->Fsync(fd); }
  int Rename(const char* from, const char* to) override { return target_->Rename(from, to); }
  int Unlink(const char* path) override { return target_->Unlink(path); }
  int Mkdir(const char* path, mode_t mode) override { return target_->Mkdir(path, mode); }
  absl::StatusOr<pid_t> Spawn(const SpawnSpec& spec) override { return target_->Spawn(spec); }
  bool SignalGroup(pid_t pgid, int sig) override { return target_->SignalGroup(pgid, sig); }

 protected:
  Env* target() const { return target_; }

 private:
  Env* target_;
};

}  // namespace fleet::os

#endif  // FLEET_CORE_OS_ENV_H_
