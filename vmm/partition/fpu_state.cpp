#include "vmm/partition/fpu_state.hpp"

#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/extended_state.hpp"
#include "vmm/arch/x86_64/percpu.hpp"
#include "vmm/core/log.hpp"

#include <string.h>

namespace halcyon::vmm {
namespace {

// Offsets in the legacy region (FXSAVE layout) and the XSAVE header.
constexpr size_t kFcwOffset = 0;
constexpr size_t kMxcsrOffset = 24;
constexpr size_t kXstateBvOffset = 512;
constexpr uint16_t kInitialFcw = 0x037F;   // all x87 exceptions masked, 64-bit precision
constexpr uint32_t kInitialMxcsr = 0x1F80; // all SSE exceptions masked, round to nearest

constexpr uint64_t kUnknown = ~0ull;

// Which vCPU's state each physical CPU's FPU registers hold right now.
FpuState* g_owner[x86::kMaxCpus];
uint64_t g_components = kUnknown;

static_assert(alignof(FpuState) == 64, "XSAVE/XRSTOR fault on areas not 64-byte aligned");
static_assert(sizeof(FpuState) >= 512, "the FXSAVE fallback needs 512 bytes");

virt::CpuidRegisters host_cpuid(uint32_t leaf, uint32_t subleaf) {
    const x86::CpuidResult r = x86::cpuid(leaf, subleaf);
    return {r.eax, r.ebx, r.ecx, r.edx};
}

// XSAVE64/XRSTOR64 (REX.W: the x87 instruction and data pointers are saved as 64-bit values) of
// the components in `mask` that XCR0 enables.
void xsave(FpuState& state, uint64_t mask) {
    asm volatile("xsave64 %0"
                 : "+m"(state.area)
                 : "a"(static_cast<uint32_t>(mask)), "d"(static_cast<uint32_t>(mask >> 32))
                 : "memory");
}

void xrstor(const FpuState& state, uint64_t mask) {
    asm volatile("xrstor64 %0"
                 :
                 : "m"(state.area), "a"(static_cast<uint32_t>(mask)),
                   "d"(static_cast<uint32_t>(mask >> 32))
                 : "memory");
}

} // namespace

uint64_t guest_xcr0_components() {
    uint64_t components = __atomic_load_n(&g_components, __ATOMIC_RELAXED);
    if (components != kUnknown)
        return components;
    // Without CR4.OSXSAVE on the host nothing may touch XCR0, whatever CPUID says.
    components = x86::host_xcr0() == 0 ? 0 : guest_supported_xcr0(host_cpuid);
    // Every CPU computes the same value: a race only repeats the work; the winner reports it.
    uint64_t unknown = kUnknown;
    if (__atomic_compare_exchange_n(&g_components, &unknown, components, false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED)) {
        if (components == 0) {
            log::info("fpu: no XSAVE for guests; vCPU state switched with FXSAVE (512 bytes)");
        } else {
            const x86::CpuidResult host = x86::cpuid(0xD, 0);
            log::info(
                "fpu: guests may enable XCR0 %#llx of the host's %#llx (XSAVE features "
                "%#x); vCPU state switched with XSAVE, %u bytes",
                static_cast<unsigned long long>(components),
                static_cast<unsigned long long>((static_cast<uint64_t>(host.edx) << 32) | host.eax),
                x86::cpuid(0xD, 1).eax, xsave_standard_size(components, host_cpuid));
        }
    }
    return components;
}

void init_fpu_state(FpuState& state) {
    memset(state.area, 0, sizeof(state.area));
    memcpy(state.area + kFcwOffset, &kInitialFcw, sizeof(kInitialFcw));
    memcpy(state.area + kMxcsrOffset, &kInitialMxcsr, sizeof(kInitialMxcsr));
    // XSTATE_BV: x87 and SSE come from the legacy region above (explicit values rather than
    // "initial configuration", so MXCSR does not depend on how a CPU treats XSTATE_BV[1] = 0);
    // AVX and every other component start in their initial configuration (zero). XCOMP_BV and
    // the rest of the header stay zero: the standard format.
    const uint64_t xstate_bv = xcr0::kX87 | xcr0::kSse;
    memcpy(state.area + kXstateBvOffset, &xstate_bv, sizeof(xstate_bv));
}

void activate_fpu_state(FpuState& state) {
    FpuState*& owner = g_owner[x86::this_cpu().index];
    if (owner == &state)
        return;
    const uint64_t components = guest_xcr0_components();
    if (components == 0) {
        if (owner != nullptr)
            asm volatile("fxsave64 %0" : "=m"(owner->area));
        asm volatile("fxrstor64 %0" : : "m"(state.area));
        owner = &state;
        return;
    }
    // XSAVE and XRSTOR only reach components XCR0 enables: widen the host's XCR0 to every
    // component a guest may have for the move (no state is lost by changing XCR0: the SDM
    // (vol. 1 13.3) has the processor preserve a component's state while its bit is clear).
    const uint64_t host = x86::host_xcr0();
    if (components != host)
        x86::xsetbv(0, components);
    if (owner != nullptr)
        xsave(*owner, components);
    xrstor(state, components);
    if (components != host)
        x86::xsetbv(0, host);
    owner = &state;
}

void release_fpu_state(FpuState& state) {
    for (FpuState*& owner : g_owner) {
        if (owner == &state)
            owner = nullptr;
    }
}

} // namespace halcyon::vmm
