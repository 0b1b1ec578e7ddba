// The interrupt descriptor table and the register frame every interrupt stub saves. Vectors 0-31
// are CPU exceptions and end in a crash report (exceptions.cpp); vectors 32-255 go to a handler
// registered with register_interrupt_handler(), or are counted as spurious, acknowledged
// (EOI) and ignored.
#pragma once

#include <stdint.h>

namespace halcyon::x86 {

// Layout pushed by interrupt_stubs.S: general registers (pushed last, so lowest), then the
// vector and error code the stub pushed (0 when the CPU pushes none), then the CPU's own frame.
struct InterruptFrame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector;
    uint64_t error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};
static_assert(sizeof(InterruptFrame) == 22 * 8);

inline constexpr uint8_t kFirstExternalVector = 32;

using InterruptHandler = void (*)(InterruptFrame& frame);

// Builds the (shared) IDT once; idempotent. load_cpu_tables() calls it, then load_idt().
void build_idt();
void load_idt();

// Routes `vector` (>= 32) to `handler`; nullptr restores the spurious default. The handler runs
// with interrupts disabled and must send any EOI itself.
void register_interrupt_handler(uint8_t vector, InterruptHandler handler);

// Number of interrupts that arrived on a vector nobody registered.
[[nodiscard]] uint64_t spurious_interrupt_count();

} // namespace halcyon::x86
