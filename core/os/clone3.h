// clone3 with a stack of the caller's: the child runs fn(arg) on that stack
// and exits with its result; the parent gets the pid (or -errno). What
// glibc's clone() does for clone(2), for clone3, which glibc does not wrap:
// the child cannot return through the syscall's C wrapper, since it shares
// the caller's memory but not its stack (CLONE_VM).
#ifndef FLEET_CORE_OS_CLONE3_H_
#define FLEET_CORE_OS_CLONE3_H_

#include <linux/sched.h>
#include <stddef.h>

namespace fleet::os {

#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
// A sanitizer's runtime must not run in a child that shares fleetd's
// memory: sanitizer builds spawn with a copy-on-write clone instead.
inline constexpr bool kSharedMemorySpawn = true;
#else
inline constexpr bool kSharedMemorySpawn = false;
#endif

// REQUIRES: kSharedMemorySpawn; args->stack set. Returns the child's pid
// or -errno.
long Clone3Run(clone_args* args, size_t size, int (*fn)(void*), void* arg);

}  // namespace fleet::os

#endif  // FLEET_CORE_OS_CLONE3_H_
