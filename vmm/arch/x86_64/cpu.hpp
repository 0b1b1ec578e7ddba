// Thin, typed wrappers around the x86-64 instructions the core needs that C++ cannot express:
// CPUID, MSRs, control registers, the TSC, port I/O and the interrupt flag. Everything is inline
// and header-only so it costs nothing over writing the instruction by hand, and so code that runs
// before any tables exist (entry, AP start-up, crash reports) can use it freely.
#pragma once

#include <stdint.h>

namespace halcyon::x86 {

struct CpuidResult {
    uint32_t eax;
    uint32_t ebx;
    uint32_t ecx;
    uint32_t edx;
};

[[nodiscard]] inline CpuidResult cpuid(uint32_t leaf, uint32_t subleaf = 0) {
    CpuidResult r;
    asm volatile("cpuid"
                 : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                 : "a"(leaf), "c"(subleaf));
    return r;
}

// Model-specific registers the core touches by name.
namespace msr {
inline constexpr uint32_t kApicBase = 0x1B;
inline constexpr uint32_t kFeatureControl = 0x3A;
inline constexpr uint32_t kEfer = 0xC000'0080;
inline constexpr uint32_t kFsBase = 0xC000'0100;
inline constexpr uint32_t kGsBase = 0xC000'0101;
inline constexpr uint32_t kKernelGsBase = 0xC000'0102;
inline constexpr uint32_t kVmCr = 0xC001'0114;
inline constexpr uint32_t kVmHsavePa = 0xC001'0117;
} // namespace msr

[[nodiscard]] inline uint64_t rdmsr(uint32_t index) {
    uint32_t low, high;
    asm volatile("rdmsr" : "=a"(low), "=d"(high) : "c"(index));
    return (static_cast<uint64_t>(high) << 32) | low;
}

inline void wrmsr(uint32_t index, uint64_t value) {
    asm volatile("wrmsr"
                 :
                 : "c"(index), "a"(static_cast<uint32_t>(value)),
                   "d"(static_cast<uint32_t>(value >> 32))
                 : "memory");
}

// Control registers. The "memory" clobbers keep the compiler from moving memory accesses across a
// change of paging or protection state.
[[nodiscard]] inline uint64_t read_cr0() {
    uint64_t value;
    asm volatile("mov %%cr0, %0" : "=r"(value));
    return value;
}
inline void write_cr0(uint64_t value) {
    asm volatile("mov %0, %%cr0" : : "r"(value) : "memory");
}

[[nodiscard]] inline uint64_t read_cr2() {
    uint64_t value;
    asm volatile("mov %%cr2, %0" : "=r"(value));
    return value;
}

[[nodiscard]] inline uint64_t read_cr3() {
    uint64_t value;
    asm volatile("mov %%cr3, %0" : "=r"(value));
    return value;
}
inline void write_cr3(uint64_t value) {
    asm volatile("mov %0, %%cr3" : : "r"(value) : "memory");
}

[[nodiscard]] inline uint64_t read_cr4() {
    uint64_t value;
    asm volatile("mov %%cr4, %0" : "=r"(value));
    return value;
}
inline void write_cr4(uint64_t value) {
    asm volatile("mov %0, %%cr4" : : "r"(value) : "memory");
}

[[nodiscard]] inline uint64_t rdtsc() {
    uint32_t low, high;
    asm volatile("rdtsc" : "=a"(low), "=d"(high));
    return (static_cast<uint64_t>(high) << 32) | low;
}

[[nodiscard]] inline uint64_t read_rflags() {
    uint64_t value;
    asm volatile("pushfq; popq %0" : "=r"(value));
    return value;
}

[[nodiscard]] inline uint64_t read_rbp() {
    uint64_t value;
    asm volatile("mov %%rbp, %0" : "=r"(value));
    return value;
}

[[nodiscard]] inline uint64_t read_rsp() {
    uint64_t value;
    asm volatile("mov %%rsp, %0" : "=r"(value));
    return value;
}

// Spin-wait hint: lets a hyper-threaded sibling run and saves power in busy loops.
inline void pause() {
    asm volatile("pause" ::: "memory");
}
inline void halt() {
    asm volatile("hlt" ::: "memory");
}
inline void cli() {
    asm volatile("cli" ::: "memory");
}
inline void sti() {
    asm volatile("sti" ::: "memory");
}

[[nodiscard]] inline bool interrupts_enabled() {
    return (read_rflags() & (1u << 9)) != 0;
}

// Stops this CPU for good: interrupts off, then hlt in a loop (an NMI or SMI can still wake hlt,
// so one hlt is not enough).
[[noreturn]] inline void halt_forever() {
    cli();
    for (;;)
        halt();
}

inline void out8(uint16_t port, uint8_t value) {
    asm volatile("outb %0, %1" : : "a"(value), "Nd"(port) : "memory");
}
inline void out16(uint16_t port, uint16_t value) {
    asm volatile("outw %0, %1" : : "a"(value), "Nd"(port) : "memory");
}
inline void out32(uint16_t port, uint32_t value) {
    asm volatile("outl %0, %1" : : "a"(value), "Nd"(port) : "memory");
}
[[nodiscard]] inline uint8_t in8(uint16_t port) {
    uint8_t value;
    asm volatile("inb %1, %0" : "=a"(value) : "Nd"(port) : "memory");
    return value;
}
[[nodiscard]] inline uint16_t in16(uint16_t port) {
    uint16_t value;
    asm volatile("inw %1, %0" : "=a"(value) : "Nd"(port) : "memory");
    return value;
}
[[nodiscard]] inline uint32_t in32(uint16_t port) {
    uint32_t value;
    asm volatile("inl %1, %0" : "=a"(value) : "Nd"(port) : "memory");
    return value;
}

} // namespace halcyon::x86
