#include "vmm/partition/cpuid_policy.hpp"

namespace halcyon::vmm {
namespace {

namespace leaf1_ecx {
constexpr uint32_t kMonitor = 1u << 3;
constexpr uint32_t kVmx = 1u << 5;
constexpr uint32_t kPdcm = 1u << 15; // perfmon and debug capability MSR
constexpr uint32_t kX2apic = 1u << 21;
constexpr uint32_t kXsave = 1u << 26;
constexpr uint32_t kOsxsave = 1u << 27;
constexpr uint32_t kAvx = 1u << 28;
constexpr uint32_t kF16c = 1u << 29;
constexpr uint32_t kFma = 1u << 12;
constexpr uint32_t kTscDeadline = 1u << 24;
constexpr uint32_t kHypervisor = 1u << 31;
} // namespace leaf1_ecx
constexpr uint32_t kLeaf1EdxApic = 1u << 9;
// Memory types come from the guest's PAT alone (nested paging uses write-back for guest RAM), so
// there are no MTRRs to offer; a guest that saw the bit would read MTRR MSRs that #GP.
constexpr uint32_t kLeaf1EdxMtrr = 1u << 12;
// Machine checks are the host's: a guest gets no MCA banks (their MSRs would #GP).
constexpr uint32_t kLeaf1EdxMce = 1u << 7;
constexpr uint32_t kLeaf1EdxMca = 1u << 14;
constexpr uint32_t kLeaf1EdxHidden = kLeaf1EdxMtrr | kLeaf1EdxMce | kLeaf1EdxMca;

namespace ext_ecx { // CPUID 0x80000001 ECX
constexpr uint32_t kSvm = 1u << 2;
constexpr uint32_t kIbs = 1u << 10;
constexpr uint32_t kXop = 1u << 11;
constexpr uint32_t kSkinit = 1u << 12;
constexpr uint32_t kFma4 = 1u << 16;
constexpr uint32_t kPerfCtrCore = 1u << 23;
constexpr uint32_t kPerfCtrNb = 1u << 24;
constexpr uint32_t kPerfCtrLlc = 1u << 28;
constexpr uint32_t kMonitorx = 1u << 29;
} // namespace ext_ecx
constexpr uint32_t kExtEdxRdtscp = 1u << 27;

// Leaf 7 subleaf 0 EBX: the features a guest may use without state we do not switch (no AVX2,
// no AVX-512, no MPX, no PT). An allow list, so new CPU features stay hidden until reviewed.
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

} // namespace

virt::CpuidRegisters guest_cpuid(uint32_t leaf, uint32_t subleaf, const CpuidContext& context,
                                 HostCpuid host) {
    if (leaf >= 0x4000'0000 && leaf <= 0x4000'FFFF)
        return {0, 0, 0, 0}; // the Hyper-V interface's (vmm/hyperv/cpuid.hpp)

    virt::CpuidRegisters r = host(leaf, subleaf);
    switch (leaf) {
    case 0x1:
        r.ecx &= ~(leaf1_ecx::kMonitor | leaf1_ecx::kVmx | leaf1_ecx::kPdcm | leaf1_ecx::kXsave |
                   leaf1_ecx::kOsxsave | leaf1_ecx::kAvx | leaf1_ecx::kF16c | leaf1_ecx::kFma);
        // The virtual local APIC (vmm/lapic) has x2APIC mode and the TSC-deadline timer
        // whatever the host CPU has.
        r.ecx |= leaf1_ecx::kHypervisor | leaf1_ecx::kX2apic | leaf1_ecx::kTscDeadline;
        r.edx = (r.edx | kLeaf1EdxApic) & ~kLeaf1EdxHidden;
        // EBX: [31:24] initial APIC ID, [23:16] logical processors per package.
        r.ebx = (r.ebx & 0x0000'FFFF) | ((context.vcpu_count & 0xFF) << 16) |
                ((context.vcpu_index & 0xFF) << 24);
        break;
    case 0x5:  // MONITOR/MWAIT
    case 0x6:  // thermal and power management
    case 0xA:  // architectural performance monitoring
    case 0xB:  // x2APIC topology
    case 0xD:  // XSAVE state
    case 0xF:  // resource monitoring
    case 0x10: // resource allocation
    case 0x14: // processor trace
    case 0x1F: // x2APIC topology v2
        r = {0, 0, 0, 0};
        break;
    case 0x7:
        if (subleaf == 0) {
            r.eax = 0; // only subleaf 0 is described
            r.ebx &= kLeaf7EbxAllowed;
        } else {
            r.ebx = 0;
        }
        r.ecx = 0;
        r.edx = 0;
        break;
    case 0x8000'0001:
        r.edx &= ~kLeaf1EdxHidden; // AMD mirrors these bits here
        r.ecx &= ~(ext_ecx::kSvm | ext_ecx::kIbs | ext_ecx::kXop | ext_ecx::kSkinit |
                   ext_ecx::kFma4 | ext_ecx::kPerfCtrCore | ext_ecx::kPerfCtrNb |
                   ext_ecx::kPerfCtrLlc | ext_ecx::kMonitorx);
        r.edx &= ~kExtEdxRdtscp;
        break;
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
