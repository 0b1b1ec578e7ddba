// The management partition's crash report: any CPU exception lands here (on the IST1 crash
// stack, runtime/cpu_tables.cpp), prints
//   mgmt: CRASH <vector name> (#NN) error=0x.. rip=0x.. cr2=0x..
// then the registers and a raw dump of the interrupted stack, then "mgmt: CRASH END", and
// triple-faults. The core sees the shutdown, prints HALCYON MGMT CRASHED and restarts the
// partition (docs/management-partition.md). panic() ends the same way.
#pragma once

#include <stdint.h>

namespace halcyon::mgmt::partition {

// What runtime/entry.S pushed (lowest address first) followed by the CPU's interrupt frame.
struct ExceptionFrame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

// The memory a stack dump may read: the partition's RAM region (identity) and its image.
void set_crash_memory(uint64_t region_base, uint64_t region_size);

[[nodiscard]] const char* exception_name(uint64_t vector);

} // namespace halcyon::mgmt::partition

extern "C" [[noreturn]] void mgmt_exception(halcyon::mgmt::partition::ExceptionFrame* frame);
