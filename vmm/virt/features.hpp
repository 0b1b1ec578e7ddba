// What hardware virtualization this CPU offers, decoded from CPUID and MSR values.
//
// This layer is pure: it takes register values as plain integers and never executes CPUID or
// RDMSR itself, so the same decoding runs in the core (fed by the real instructions, see
// virt_cpu.hpp) and in host unit tests (fed by register dumps of real CPUs). Bit positions come
// from the AMD APM vol. 2/3 (CPUID Fn8000_000A, VM_CR) and the Intel SDM vol. 3 (appendix A, VMX
// capability MSRs).
#pragma once

#include <stdint.h>

namespace halcyon::virt {

struct CpuidRegisters {
    uint32_t eax;
    uint32_t ebx;
    uint32_t ecx;
    uint32_t edx;
};

// Everything CPUID Fn8000_000A reports about SVM, one flag per EDX feature bit we care about.
struct SvmCpuidFeatures {
    uint8_t revision;            // EAX[7:0]
    uint32_t asids;              // EBX: number of address space identifiers (ASID 0 is the host's)
    bool nested_paging;          // EDX[0]  NP
    bool lbr_virtualization;     // EDX[1]  LbrVirt
    bool svm_lock;               // EDX[2]  SVML
    bool nrip_save;              // EDX[3]  NRIPS: next RIP saved in the VMCB on #VMEXIT
    bool tsc_rate_msr;           // EDX[4]  TscRateMsr
    bool vmcb_clean_bits;        // EDX[5]  VmcbClean
    bool flush_by_asid;          // EDX[6]  FlushByAsid
    bool decode_assists;         // EDX[7]  DecodeAssists
    bool pause_filter;           // EDX[10] PauseFilter
    bool pause_filter_threshold; // EDX[12] PauseFilterThreshold
    bool avic;                   // EDX[13] AVIC
    bool vmsave_virtualization;  // EDX[15] VMSAVEvirt
    bool vgif;                   // EDX[16] VGIF: virtual global interrupt flag
    bool gmet;                   // EDX[17] guest mode execute trap
    bool x2avic;                 // EDX[18]
    bool spec_ctrl;              // EDX[20] SPEC_CTRL virtualization
    bool vmcb_address_check;     // EDX[28] SVME_ADDR_CHK (VMRUN checks the VMCB address)
};

// The VMX capability MSRs that matter for detection (Intel SDM vol. 3, appendix A).
struct VmxCapabilityMsrs {
    uint64_t feature_control;     // IA32_FEATURE_CONTROL (0x3A)
    uint64_t basic;               // IA32_VMX_BASIC (0x480)
    uint64_t procbased_controls;  // IA32_VMX_PROCBASED_CTLS (0x482)
    uint64_t procbased_controls2; // IA32_VMX_PROCBASED_CTLS2 (0x48B); 0 when not readable
    uint64_t ept_vpid_capability; // IA32_VMX_EPT_VPID_CAP (0x48C); 0 when not readable
};

namespace vmx_msr {
inline constexpr uint32_t kBasic = 0x480;
inline constexpr uint32_t kProcbasedControls = 0x482;
inline constexpr uint32_t kProcbasedControls2 = 0x48B;
inline constexpr uint32_t kEptVpidCapability = 0x48C;
} // namespace vmx_msr

enum class Kind : uint8_t { none, svm, vmx };

[[nodiscard]] constexpr const char* kind_name(Kind kind) {
    switch (kind) {
    case Kind::none:
        return "none";
    case Kind::svm:
        return "svm";
    case Kind::vmx:
        return "vmx";
    }
    return "none";
}

// The summary the rest of the core works from. `kind` is only svm/vmx when the extension is
// present AND usable: a CPU whose firmware disabled it reports kind = none with
// disabled_by_firmware = true, so the message can say why.
struct VirtFeatures {
    Kind kind = Kind::none;
    bool disabled_by_firmware = false;
    bool npt_or_ept = false; // second-level address translation
    bool nrip_save = false;
    bool decode_assists = false;
    bool vmcb_clean = false;
    bool flush_by_asid = false;
    bool vgif = false;
    bool avic = false;
    bool pause_filter = false;
    uint32_t asids = 0;    // SVM ASIDs; for VMX: 65535 usable VPIDs when VPID exists, else 0
    uint32_t revision = 0; // SVM revision (CPUID) or VMCS revision identifier (IA32_VMX_BASIC)
    // VMX only.
    bool vpid = false;
    bool unrestricted_guest = false;
    bool ept_4level_walk = false;
    bool ept_write_back = false;
    bool ept_2mb_pages = false;
    bool feature_control_locked = false; // firmware locked IA32_FEATURE_CONTROL
};

// CPUID Fn8000_0001 ECX[2]: the CPU implements SVM (it may still be disabled by firmware).
[[nodiscard]] bool cpuid_has_svm(const CpuidRegisters& leaf_80000001);
// CPUID Fn0000_0001 ECX[5]: the CPU implements VMX.
[[nodiscard]] bool cpuid_has_vmx(const CpuidRegisters& leaf_1);
// CPUID Fn0000_0000: the vendor string is "AuthenticAMD" or "HygonGenuine" (SVM vendors).
[[nodiscard]] bool cpuid_vendor_is_amd(const CpuidRegisters& leaf_0);

[[nodiscard]] SvmCpuidFeatures decode_svm_cpuid(const CpuidRegisters& leaf_8000000a);

// VM_CR (MSR 0xC0010114) bit 4: SVMDIS, firmware turned SVM off (EFER.SVME cannot be set).
inline constexpr uint32_t kVmCrSvmDisabled = 1u << 4;
// VM_CR bit 3: LOCK, SVMDIS cannot be changed without the SVM key.
inline constexpr uint32_t kVmCrLock = 1u << 3;

// The SVM summary from CPUID Fn8000_000A and the VM_CR MSR.
[[nodiscard]] VirtFeatures decode_svm(const CpuidRegisters& leaf_8000000a, uint64_t vm_cr);

// IA32_FEATURE_CONTROL bits.
inline constexpr uint64_t kFeatureControlLock = 1ull << 0;
inline constexpr uint64_t kFeatureControlVmxInsideSmx = 1ull << 1;
inline constexpr uint64_t kFeatureControlVmxOutsideSmx = 1ull << 2;

// The VMX summary from the capability MSRs. Only call when cpuid_has_vmx() (the MSRs #GP
// otherwise). procbased_controls2 / ept_vpid_capability must be 0 when the CPU does not allow
// them (see vmx_has_secondary_controls / vmx_has_ept_or_vpid).
[[nodiscard]] VirtFeatures decode_vmx(const VmxCapabilityMsrs& msrs);

// Whether IA32_VMX_PROCBASED_CTLS2 exists: allowed-1 of "activate secondary controls" (bit 63).
[[nodiscard]] bool vmx_has_secondary_controls(uint64_t procbased_controls);
// Whether IA32_VMX_EPT_VPID_CAP exists: secondary controls allow "enable EPT" or "enable VPID".
[[nodiscard]] bool vmx_has_ept_or_vpid(uint64_t procbased_controls2);

// Two CPUs agree when the properties the hypervisor relies on match (used to check that every
// CPU of the machine offers what the BSP offers).
[[nodiscard]] bool same_capabilities(const VirtFeatures& a, const VirtFeatures& b);

} // namespace halcyon::virt
