// The CPUID a guest sees: the host's values, edited by a fixed policy, and the extended-state
// (XCR0) policy that goes with it. Pure (the host's CPUID comes in as a function), so the policy
// is unit-tested against recorded CPUs.
//
// Policy (documented in docs/partition-interface.md):
//   - the hypervisor-present bit (leaf 1 ECX[31]) is set;
//   - leaves 0x40000000.. belong to the Hyper-V interface (vmm/hyperv); this policy answers them
//     with zeros;
//   - features we do not virtualize are hidden: SVM and VMX, MONITOR/MWAIT(X), performance
//     counters (PDCM, leaf 0xA, AMD PerfCtrExt*, IBS), RDTSCP (TSC_AUX is not switched),
//     SKINIT, the SVM leaf 0x8000000A;
//   - XSAVE is offered with the state components of kGuestXcr0Allowed the host has (x87, SSE,
//     AVX): XSAVE, OSXSAVE (= the guest's CR4.OSXSAVE, as on hardware), AVX, F16C, FMA, AVX2,
//     XOP/FMA4, leaf 0xD for those components (EBX follows the guest's XCR0), XSAVEOPT, XSAVEC
//     and XGETBV with ECX = 1; XSAVES is hidden (IA32_XSS is not virtualized);
//   - topology: APIC ID = vCPU index, logical processor count = vCPU count; leaves 0xB/0x1F
//     (x2APIC topology) are empty.
#pragma once

#include "vmm/virt/features.hpp"

#include <stddef.h>
#include <stdint.h>

namespace halcyon::vmm {

// XCR0 bits: one per XSAVE state component (Intel SDM vol. 1 13.1, AMD APM vol. 2 11.5.2).
namespace xcr0 {
inline constexpr uint64_t kX87 = 1ull << 0;
inline constexpr uint64_t kSse = 1ull << 1;
inline constexpr uint64_t kAvx = 1ull << 2;    // YMM_Hi128: upper halves of YMM0-15
inline constexpr uint64_t kMpx = 3ull << 3;    // BNDREGS, BNDCSR: all or nothing
inline constexpr uint64_t kAvx512 = 7ull << 5; // opmask, ZMM_Hi256, Hi16_ZMM: all or nothing
inline constexpr uint64_t kPkru = 1ull << 9;   // protection-key rights (user)
inline constexpr uint64_t kAmx = 3ull << 17;   // TILECFG, TILEDATA: all or nothing
} // namespace xcr0

// The components a guest may enable. x87 and SSE are every x86-64 guest's; AVX is offered
// because its state (YMM_Hi128, 256 bytes) fits the per-vCPU save area. Not (yet) offered:
// MPX (deprecated, gone from current CPUs), AVX-512 (2.5 KiB of state and an untested path:
// QEMU's TCG has none), PKRU (needs CR4.PKE and leaf 7 ECX.OSPKE virtualized), AMX (8 KiB of
// tile data and the XFD machinery).
inline constexpr uint64_t kGuestXcr0Allowed = xcr0::kX87 | xcr0::kSse | xcr0::kAvx;

// The legacy region (512 bytes, FXSAVE layout) plus the XSAVE header (64 bytes): where every
// extended component's standard-format offset starts.
inline constexpr uint32_t kXsaveLegacyAndHeaderBytes = 576;
// Bytes every vCPU has for its saved XSAVE area (vmm/partition/fpu_state.hpp). A component
// whose standard-format end lies beyond it is not offered. x87+SSE+AVX need 832.
inline constexpr uint32_t kGuestXsaveAreaCapacity = 1024;

inline constexpr uint64_t kCr4Osxsave = 1ull << 18;

// What the policy needs to know about the asking vCPU.
struct CpuidContext {
    uint32_t vcpu_index = 0;
    uint32_t vcpu_count = 1;
    uint64_t guest_cr4 = 0;           // leaf 1 ECX.OSXSAVE mirrors CR4.OSXSAVE
    uint64_t guest_xcr0 = xcr0::kX87; // leaf 0xD EBX: the size for the enabled components
};

using HostCpuid = virt::CpuidRegisters (*)(uint32_t leaf, uint32_t subleaf);

[[nodiscard]] virt::CpuidRegisters guest_cpuid(uint32_t leaf, uint32_t subleaf,
                                               const CpuidContext& context, HostCpuid host);

// The XCR0 bits a guest may set on this host: kGuestXcr0Allowed, cut to what the host reports
// in leaf 0xD and to components that fit kGuestXsaveAreaCapacity. 0 when the host has no XSAVE
// (guests then get none either). The same mask decides which state the core switches between
// vCPUs, so a guest can never enable a component whose registers are not saved for it.
[[nodiscard]] uint64_t guest_supported_xcr0(HostCpuid host);

// Size of a standard-format XSAVE area holding `components` (offset + size of the highest one
// the host reports; at least the legacy region and header).
[[nodiscard]] uint32_t xsave_standard_size(uint64_t components, HostCpuid host);
// Size of a compacted-format area (XSAVEC) holding `components`: the extended components packed
// in order, each 64-byte aligned when leaf 0xD subleaf i ECX[1] says so.
[[nodiscard]] uint32_t xsave_compacted_size(uint64_t components, HostCpuid host);

// A guest's XSETBV, as the intercept sees it.
struct XsetbvAttempt {
    uint64_t cr4 = 0;
    uint8_t cpl = 0;
    uint32_t ecx = 0;   // the XCR number (RCX[63:32] are ignored by the instruction)
    uint64_t value = 0; // EDX:EAX
};

enum class XsetbvOutcome : uint8_t {
    write,              // XCR0 = value; the instruction (0F 01 D1, 3 bytes) completes
    invalid_opcode,     // #UD
    general_protection, // #GP(0)
};

// What XSETBV does on a CPU whose XCR0 can hold `supported` (SDM vol. 2 XSETBV, vol. 1 13.3;
// APM vol. 3 XSETBV): #UD without CR4.OSXSAVE (or without XSAVE at all); #GP(0) at CPL > 0,
// for any XCR but 0, for bits outside `supported`, without x87, for AVX without SSE, and for
// the all-or-nothing groups (MPX, AVX-512 - which also needs SSE and AVX -, AMX) split up.
[[nodiscard]] XsetbvOutcome check_xsetbv(const XsetbvAttempt& attempt, uint64_t supported);

} // namespace halcyon::vmm
