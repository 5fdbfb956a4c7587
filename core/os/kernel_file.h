// Reading a file the kernel makes (/proc, cgroupfs): small, never blocks,
// read with plain syscalls (no stream, no Env: a status reads thousands of
// them, and a fault injected into the Env is about fleetd's own files).
#ifndef FLEET_CORE_OS_KERNEL_FILE_H_
#define FLEET_CORE_OS_KERNEL_FILE_H_

#include <string>

namespace fleet::os {

// Its whole content; "" if it cannot be read (gone, say).
std::string ReadKernelFile(const std::string& path);

}  // namespace fleet::os

#endif  // FLEET_CORE_OS_KERNEL_FILE_H_
