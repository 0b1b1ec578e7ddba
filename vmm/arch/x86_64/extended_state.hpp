// The host side of the XSAVE feature set. On a CPU with XSAVE every physical CPU runs with
// CR4.OSXSAVE set, which lets the core execute XSETBV/XSAVE/XRSTOR: it switches the guests'
// XCR0 around VMRUN (SVM does not) and moves the vCPUs' extended state (vmm/partition/fpu_state).
// The core itself never uses x87/SSE/AVX registers (it is built without SSE).
#pragma once

#include <stdint.h>

namespace halcyon::x86 {

inline constexpr uint64_t kCr4Osfxsr = 1ull << 9;
inline constexpr uint64_t kCr4Osxsave = 1ull << 18;

// The XCR0 the host runs with between guest entries: x87 | SSE (bit 0 is mandatory; SSE is
// base x86-64 state). Nothing wider: the bigger components are enabled only while a guest that
// enabled them runs, or for the moment the core saves or restores a vCPU's state.
inline constexpr uint64_t kHostXcr0 = 0x3;

// Sets CR4.OSFXSR (FXSAVE/FXRSTOR then cover the XMM registers, for CPUs without XSAVE) and,
// when the CPU has XSAVE, CR4.OSXSAVE with XCR0 = kHostXcr0. Every CPU calls it for itself.
void enable_extended_state();

// The XCR0 the host runs with (kHostXcr0), or 0 when the CPU has no XSAVE (XCR0 then does not
// exist and nothing may execute XSETBV).
[[nodiscard]] uint64_t host_xcr0();

inline void xsetbv(uint32_t index, uint64_t value) {
    asm volatile("xsetbv"
                 :
                 : "c"(index), "a"(static_cast<uint32_t>(value)),
                   "d"(static_cast<uint32_t>(value >> 32))
                 : "memory");
}

[[nodiscard]] inline uint64_t xgetbv(uint32_t index) {
    uint32_t low, high;
    asm volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(index));
    return (static_cast<uint64_t>(high) << 32) | low;
}

} // namespace halcyon::x86
