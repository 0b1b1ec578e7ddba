#include "boot/common/enter_core.hpp"

#include "boot/common/cpu.hpp"

namespace halcyon::loader {

void enter_core(uint64_t page_table_root, uint64_t stack_top, uint64_t entry,
                uint64_t handoff_physical) {
    cpu::write_msr(cpu::kMsrEfer, cpu::read_msr(cpu::kMsrEfer) | cpu::kEferNoExecuteEnable);
    // After CR3 changes this code keeps running because the new tables identity map all of
    // physical memory. The pushed zero is a fake return address: it gives the core the stack
    // alignment a `call` would (rsp + 8 a multiple of 16) and ends stack traces.
    asm volatile("cli\n\t"
                 "mov %[root], %%cr3\n\t"
                 "mov %%cr0, %%rax\n\t"
                 "or %[write_protect], %%rax\n\t"
                 "mov %%rax, %%cr0\n\t"
                 "mov %[stack], %%rsp\n\t"
                 "xor %%ebp, %%ebp\n\t"
                 "push $0\n\t"
                 "jmp *%[entry]"
                 :
                 : [root] "r"(page_table_root), [stack] "r"(stack_top), [entry] "r"(entry),
                   [write_protect] "i"(cpu::kCr0WriteProtect), "D"(handoff_physical)
                 : "rax", "memory");
    __builtin_unreachable();
}

} // namespace halcyon::loader
