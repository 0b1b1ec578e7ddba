#include "vmm/arch/x86_64/extended_state.hpp"

#include "vmm/arch/x86_64/cpu.hpp"

namespace halcyon::x86 {
namespace {

constexpr uint32_t kLeaf1EcxXsave = 1u << 26;

// All CPUs are alike, so one value serves them all; every CPU stores the same one.
uint64_t g_host_xcr0 = 0;

} // namespace

void enable_extended_state() {
    uint64_t cr4 = read_cr4() | kCr4Osfxsr;
    const bool xsave = (cpuid(1).ecx & kLeaf1EcxXsave) != 0;
    if (xsave)
        cr4 |= kCr4Osxsave;
    write_cr4(cr4);
    if (!xsave)
        return;
    xsetbv(0, kHostXcr0);
    __atomic_store_n(&g_host_xcr0, kHostXcr0, __ATOMIC_RELAXED);
}

uint64_t host_xcr0() {
    return __atomic_load_n(&g_host_xcr0, __ATOMIC_RELAXED);
}

} // namespace halcyon::x86
