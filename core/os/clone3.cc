#include "core/os/clone3.h"

#include <sys/syscall.h>
#include <unistd.h>

namespace fleet::os {

#if defined(__x86_64__)
// rdi: args, rsi: size, rdx: fn, rcx: arg. The syscall keeps every register
// but rax, rcx and r11, so the child (rax == 0, on its own stack) still has
// fn and arg where they were put; it calls fn and exits with its result,
// never returning into the caller's frames.
asm(R"(
    .text
    .globl fleet_clone3_run
    .type fleet_clone3_run, @function
fleet_clone3_run:
    mov %rdx, %r8
    mov %rcx, %r9
    mov $)"
    "435"
    R"(, %eax
    syscall
    test %rax, %rax
    jnz 1f
    xor %ebp, %ebp
    mov %r9, %rdi
    call *%r8
    mov %eax, %edi
    mov $60, %eax
    syscall
    hlt
1:  ret
    .size fleet_clone3_run, .-fleet_clone3_run
)");
extern "C" long fleet_clone3_run(clone_args* args, size_t size, int (*fn)(void*), void* arg);

long Clone3Run(clone_args* args, size_t size, int (*fn)(void*), void* arg) {
  static_assert(SYS_clone3 == 435, "clone3's x86-64 syscall number");
  return fleet_clone3_run(args, size, fn, arg);
}
#else
long Clone3Run(clone_args*, size_t, int (*)(void*), void*) { return -38; /* ENOSYS */ }
#endif

}  // namespace fleet::os
