// The few privileged x86-64 instructions the loaders need, as typed inline functions.
#pragma once

#include <stdint.h>

namespace halcyon::loader::cpu {

inline constexpr uint32_t kMsrEfer = 0xC000'0080;
inline constexpr uint64_t kEferNoExecuteEnable = 1ull << 11;
inline constexpr uint64_t kCr0WriteProtect = 1ull << 16;

[[nodiscard]] inline uint64_t read_tsc() {
    uint32_t low, high;
    asm volatile("rdtsc" : "=a"(low), "=d"(high));
    return (static_cast<uint64_t>(high) << 32) | low;
}

struct CpuidResult {
    uint32_t eax, ebx, ecx, edx;
};

[[nodiscard]] inline CpuidResult cpuid(uint32_t leaf, uint32_t subleaf = 0) {
    CpuidResult r;
    asm volatile("cpuid"
                 : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                 : "a"(leaf), "c"(subleaf));
    return r;
}

[[nodiscard]] inline uint64_t read_msr(uint32_t msr) {
    uint32_t low, high;
    asm volatile("rdmsr" : "=a"(low), "=d"(high) : "c"(msr));
    return (static_cast<uint64_t>(high) << 32) | low;
}

inline void write_msr(uint32_t msr, uint64_t value) {
    asm volatile("wrmsr" ::"c"(msr), "a"(static_cast<uint32_t>(value)),
                 "d"(static_cast<uint32_t>(value >> 32)));
}

inline void out8(uint16_t port, uint8_t value) {
    asm volatile("outb %0, %1" ::"a"(value), "Nd"(port));
}

[[nodiscard]] inline uint8_t in8(uint16_t port) {
    uint8_t value;
    asm volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

inline void out16(uint16_t port, uint16_t value) {
    asm volatile("outw %0, %1" ::"a"(value), "Nd"(port));
}

[[nodiscard]] inline uint16_t in16(uint16_t port) {
    uint16_t value;
    asm volatile("inw %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

[[noreturn]] inline void halt_forever() {
    for (;;)
        asm volatile("cli; hlt");
}

// CPUID 0x80000001 EDX bit 26 (Page1GB): 1 GiB pages in the page tables.
[[nodiscard]] inline bool supports_1gib_pages() {
    if (cpuid(0x8000'0000).eax < 0x8000'0001)
        return false;
    return (cpuid(0x8000'0001).edx & (1u << 26)) != 0;
}

} // namespace halcyon::loader::cpu
