#include "vmm/partition/cpuid_policy.hpp"

namespace halcyon::vmm {
namespace {

namespace leaf1_ecx {
constexpr uint32_t kMonitor = 1u << 3;
constexpr uint32_t kVmx = 1u << 5;
constexpr uint32_t kFma = 1u << 12;
constexpr uint32_t kPdcm = 1u << 15; // perfmon and debug capability MSR
// Intel features without their MSRs or instructions in a guest (see kLeaf1EdxHidden): DTES64
// (2), DS-CPL (4), SMX (6: GETSEC raises #UD), SpeedStep (7: IA32_PERF_CTL is the host's), TM2
// (8), xTPR update control (14).
constexpr uint32_t kIntelHidden =
    (1u << 2) | (1u << 4) | (1u << 6) | (1u << 7) | (1u << 8) | (1u << 14);
constexpr uint32_t kX2apic = 1u << 21;
constexpr uint32_t kTscDeadline = 1u << 24;
constexpr uint32_t kXsave = 1u << 26;
constexpr uint32_t kOsxsave = 1u << 27;
constexpr uint32_t kAvx = 1u << 28;
constexpr uint32_t kF16c = 1u << 29;
constexpr uint32_t kHypervisor = 1u << 31;
// VEX-encoded instructions on YMM state: usable only with XCR0.AVX.
constexpr uint32_t kNeedAvxState = kAvx | kF16c | kFma;
} // namespace leaf1_ecx
constexpr uint32_t kLeaf1EdxApic = 1u << 9;
// Memory types come from the guest's PAT alone (nested paging uses write-back for guest RAM), so
// there are no MTRRs to offer; a guest that saw the bit would read MTRR MSRs that #GP.
constexpr uint32_t kLeaf1EdxMtrr = 1u << 12;
// Machine checks are the host's: a guest gets no MCA banks (their MSRs would #GP).
constexpr uint32_t kLeaf1EdxMce = 1u << 7;
constexpr uint32_t kLeaf1EdxMca = 1u << 14;
constexpr uint32_t kLeaf1EdxHidden = kLeaf1EdxMtrr | kLeaf1EdxMce | kLeaf1EdxMca;
// Intel features whose MSRs guests do not get: the debug store (DS; DTES64 and DS-CPL in ECX),
// thermal monitoring (ACPI: the IA32_THERM_* and clock modulation MSRs; TM; TM2 in ECX), pending
// break enable. Linux reads IA32_THERM_INTERRUPT (0x19B) when it sees ACPI and TM: its #GP is an
// "unchecked MSR access" with a call trace. Leaf 1 only: in 0x80000001 EDX the same bits are
// others (29 is long mode).
constexpr uint32_t kLeaf1EdxDs = 1u << 21;
constexpr uint32_t kLeaf1EdxAcpi = 1u << 22;
constexpr uint32_t kLeaf1EdxTm = 1u << 29;
constexpr uint32_t kLeaf1EdxPbe = 1u << 31;
constexpr uint32_t kLeaf1EdxIntelHidden = kLeaf1EdxDs | kLeaf1EdxAcpi | kLeaf1EdxTm | kLeaf1EdxPbe;

namespace ext_ecx { // CPUID 0x80000001 ECX
constexpr uint32_t kSvm = 1u << 2;
constexpr uint32_t kIbs = 1u << 10;
constexpr uint32_t kXop = 1u << 11; // on YMM state, like FMA4
constexpr uint32_t kSkinit = 1u << 12;
constexpr uint32_t kFma4 = 1u << 16;
constexpr uint32_t kPerfCtrCore = 1u << 23;
constexpr uint32_t kPerfCtrNb = 1u << 24;
constexpr uint32_t kPerfCtrLlc = 1u << 28;
constexpr uint32_t kMonitorx = 1u << 29;
} // namespace ext_ecx
constexpr uint32_t kExtEdxRdtscp = 1u << 27;

// Leaf 7 subleaf 0 EBX: the features a guest may use without state we do not switch (no
// AVX-512, no MPX, no PT). An allow list, so new CPU features stay hidden until reviewed.
constexpr uint32_t kLeaf7EbxAllowed = (1u << 0) |  // FSGSBASE
                                      (1u << 3) |  // BMI1
                                      (1u << 7) |  // SMEP
                                      (1u << 8) |  // BMI2
                                      (1u << 9) |  // ERMS
                                      (1u << 18) | // RDSEED
                                      (1u << 19) | // ADX
                                      (1u << 20) | // SMAP
                                      (1u << 23) | // CLFLUSHOPT
                                      (1u << 24) | // CLWB
                                      (1u << 29);  // SHA
constexpr uint32_t kLeaf7EbxAvx2 = 1u << 5;        // with XCR0.AVX only

// CPUID 0xD subleaf 1 EAX.
namespace xsave_features {
constexpr uint32_t kXsaveopt = 1u << 0;
constexpr uint32_t kXsavec = 1u << 1;
constexpr uint32_t kXgetbvEcx1 = 1u << 2;
// XSAVES (bit 3) and XFD (bit 4) need IA32_XSS and IA32_XFD: hidden.
constexpr uint32_t kOffered = kXsaveopt | kXsavec | kXgetbvEcx1;
} // namespace xsave_features
constexpr uint32_t kXsaveAlignedComponent = 1u << 1; // leaf 0xD subleaf i ECX[1]

constexpr uint32_t kLeafXsave = 0xD;
constexpr uint32_t kFirstExtendedComponent = 2;
constexpr uint32_t kComponentCount = 63; // bit 63 of XCR0 is reserved

bool has(uint64_t components, uint32_t index) {
    return ((components >> index) & 1) != 0;
}

virt::CpuidRegisters xsave_leaf(uint32_t subleaf, const CpuidContext& context, HostCpuid host) {
    const uint64_t supported = guest_supported_xcr0(host);
    if (supported == 0)
        return {0, 0, 0, 0};
    const uint64_t enabled = (context.guest_xcr0 & supported) | xcr0::kX87;
    if (subleaf == 0) {
        // EAX/EDX: the XCR0 bits XSETBV accepts; EBX: the area for the enabled components (what
        // an OS allocates per thread); ECX: the area for all of them.
        return {static_cast<uint32_t>(supported), xsave_standard_size(enabled, host),
                xsave_standard_size(supported, host), static_cast<uint32_t>(supported >> 32)};
    }
    if (subleaf == 1) {
        const uint32_t features = host(kLeafXsave, 1).eax & xsave_features::kOffered;
        // EBX: the compacted area for XCR0 | IA32_XSS (XSS is always 0 here); ECX/EDX: the XSS
        // bits supported (none).
        const uint32_t compacted =
            (features & xsave_features::kXsavec) ? xsave_compacted_size(enabled, host) : 0;
        return {features, compacted, 0, 0};
    }
    if (subleaf < kComponentCount && has(supported, subleaf)) {
        virt::CpuidRegisters r = host(kLeafXsave, subleaf);
        r.ecx &= kXsaveAlignedComponent; // a user component (ECX[0] = 0), alignment as reported
        r.edx = 0;
        return r;
    }
    return {0, 0, 0, 0};
}

} // namespace

uint64_t guest_supported_xcr0(HostCpuid host) {
    if (host(0, 0).eax < kLeafXsave || (host(1, 0).ecx & leaf1_ecx::kXsave) == 0)
        return 0;
    const virt::CpuidRegisters leaf = host(kLeafXsave, 0);
    uint64_t supported = ((static_cast<uint64_t>(leaf.edx) << 32) | leaf.eax) & kGuestXcr0Allowed;
    // Every XSAVE CPU manages x87 and SSE; a report without them is not one to build on.
    if ((supported & (xcr0::kX87 | xcr0::kSse)) != (xcr0::kX87 | xcr0::kSse))
        return 0;
    for (uint32_t i = kFirstExtendedComponent; i < kComponentCount; ++i) {
        if (!has(supported, i))
            continue;
        const virt::CpuidRegisters component = host(kLeafXsave, i);
        const uint64_t end = static_cast<uint64_t>(component.ebx) + component.eax;
        if (component.eax == 0 || component.ebx < kXsaveLegacyAndHeaderBytes ||
            end > kGuestXsaveAreaCapacity)
            supported &= ~(1ull << i);
    }
    return supported;
}

uint32_t xsave_standard_size(uint64_t components, HostCpuid host) {
    uint64_t size = kXsaveLegacyAndHeaderBytes;
    for (uint32_t i = kFirstExtendedComponent; i < kComponentCount; ++i) {
        if (!has(components, i))
            continue;
        const virt::CpuidRegisters component = host(kLeafXsave, i);
        const uint64_t end = static_cast<uint64_t>(component.ebx) + component.eax;
        if (end > size)
            size = end;
    }
    return static_cast<uint32_t>(size);
}

uint32_t xsave_compacted_size(uint64_t components, HostCpuid host) {
    uint64_t size = kXsaveLegacyAndHeaderBytes;
    for (uint32_t i = kFirstExtendedComponent; i < kComponentCount; ++i) {
        if (!has(components, i))
            continue;
        const virt::CpuidRegisters component = host(kLeafXsave, i);
        if (component.ecx & kXsaveAlignedComponent)
            size = (size + 63) & ~uint64_t{63};
        size += component.eax;
    }
    return static_cast<uint32_t>(size);
}

XsetbvOutcome check_xsetbv(const XsetbvAttempt& attempt, uint64_t supported) {
    // #UD comes first: it is a decode-time fault, #GP one of execution.
    if (supported == 0 || (attempt.cr4 & kCr4Osxsave) == 0)
        return XsetbvOutcome::invalid_opcode;
    const uint64_t value = attempt.value;
    auto all_or_nothing = [value](uint64_t group) {
        return (value & group) == 0 || (value & group) == group;
    };
    const bool valid =
        attempt.cpl == 0 && attempt.ecx == 0 && (value & ~supported) == 0 &&
        (value & xcr0::kX87) != 0 && ((value & xcr0::kAvx) == 0 || (value & xcr0::kSse) != 0) &&
        all_or_nothing(xcr0::kMpx) && all_or_nothing(xcr0::kAvx512) && all_or_nothing(xcr0::kAmx) &&
        ((value & xcr0::kAvx512) == 0 ||
         (value & (xcr0::kSse | xcr0::kAvx)) == (xcr0::kSse | xcr0::kAvx));
    return valid ? XsetbvOutcome::write : XsetbvOutcome::general_protection;
}

virt::CpuidRegisters guest_cpuid(uint32_t leaf, uint32_t subleaf, const CpuidContext& context,
                                 HostCpuid host) {
    if (leaf >= 0x4000'0000 && leaf <= 0x4000'FFFF)
        return {0, 0, 0, 0}; // the Hyper-V interface's (vmm/hyperv/cpuid.hpp)

    virt::CpuidRegisters r = host(leaf, subleaf);
    switch (leaf) {
    case 0x1: {
        const uint64_t xstate = guest_supported_xcr0(host);
        r.ecx &= ~(leaf1_ecx::kMonitor | leaf1_ecx::kVmx | leaf1_ecx::kPdcm | leaf1_ecx::kOsxsave |
                   leaf1_ecx::kIntelHidden);
        if (xstate == 0)
            r.ecx &= ~(leaf1_ecx::kXsave | leaf1_ecx::kNeedAvxState);
        else if ((xstate & xcr0::kAvx) == 0)
            r.ecx &= ~leaf1_ecx::kNeedAvxState;
        // OSXSAVE is not a feature but a mirror of CR4.OSXSAVE, which the guest owns.
        if (xstate != 0 && (context.guest_cr4 & kCr4Osxsave) != 0)
            r.ecx |= leaf1_ecx::kOsxsave;
        // The virtual local APIC (vmm/lapic) has x2APIC mode and the TSC-deadline timer
        // whatever the host CPU has.
        r.ecx |= leaf1_ecx::kHypervisor | leaf1_ecx::kX2apic | leaf1_ecx::kTscDeadline;
        r.edx = (r.edx | kLeaf1EdxApic) & ~(kLeaf1EdxHidden | kLeaf1EdxIntelHidden);
        // EBX: [31:24] initial APIC ID, [23:16] logical processors per package.
        r.ebx = (r.ebx & 0x0000'FFFF) | ((context.vcpu_count & 0xFF) << 16) |
                ((context.vcpu_index & 0xFF) << 24);
        break;
    }
    case 0x5:  // MONITOR/MWAIT
    case 0x6:  // thermal and power management
    case 0xA:  // architectural performance monitoring
    case 0xB:  // x2APIC topology
    case 0xF:  // resource monitoring
    case 0x10: // resource allocation
    case 0x14: // processor trace
    case 0x1F: // x2APIC topology v2
        r = {0, 0, 0, 0};
        break;
    case kLeafXsave:
        r = xsave_leaf(subleaf, context, host);
        break;
    case 0x7:
        if (subleaf == 0) {
            uint32_t allowed = kLeaf7EbxAllowed;
            if (guest_supported_xcr0(host) & xcr0::kAvx)
                allowed |= kLeaf7EbxAvx2;
            r.eax = 0; // only subleaf 0 is described
            r.ebx &= allowed;
        } else {
            r.ebx = 0;
        }
        r.ecx = 0;
        r.edx = 0;
        break;
    case 0x8000'0001: {
        r.edx &= ~kLeaf1EdxHidden; // AMD mirrors these bits here
        uint32_t hidden = ext_ecx::kSvm | ext_ecx::kIbs | ext_ecx::kSkinit | ext_ecx::kPerfCtrCore |
                          ext_ecx::kPerfCtrNb | ext_ecx::kPerfCtrLlc | ext_ecx::kMonitorx;
        if ((guest_supported_xcr0(host) & xcr0::kAvx) == 0)
            hidden |= ext_ecx::kXop | ext_ecx::kFma4;
        r.ecx &= ~hidden;
        r.edx &= ~kExtEdxRdtscp;
        break;
    }
    case 0x8000'000A: // SVM features
    case 0x8000'001B: // IBS
    case 0x8000'0022: // extended performance monitoring
        r = {0, 0, 0, 0};
        break;
    default:
        break;
    }
    return r;
}

} // namespace halcyon::vmm
