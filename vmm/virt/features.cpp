// Pure decoding of the virtualization CPUID leaves and capability MSRs (see features.hpp).
#include "vmm/virt/features.hpp"

namespace halcyon::virt {
namespace {

[[nodiscard]] constexpr bool bit(uint64_t value, unsigned index) {
    return ((value >> index) & 1) != 0;
}

// "AuthenticAMD" / "HygonGenuine" as CPUID leaf 0 returns them: EBX, EDX, ECX, 4 bytes each.
[[nodiscard]] constexpr uint32_t chars(const char (&text)[13], unsigned offset) {
    return static_cast<uint32_t>(static_cast<uint8_t>(text[offset])) |
           static_cast<uint32_t>(static_cast<uint8_t>(text[offset + 1])) << 8 |
           static_cast<uint32_t>(static_cast<uint8_t>(text[offset + 2])) << 16 |
           static_cast<uint32_t>(static_cast<uint8_t>(text[offset + 3])) << 24;
}

[[nodiscard]] bool vendor_is(const CpuidRegisters& leaf_0, const char (&vendor)[13]) {
    return leaf_0.ebx == chars(vendor, 0) && leaf_0.edx == chars(vendor, 4) &&
           leaf_0.ecx == chars(vendor, 8);
}

// Allowed-1 settings of a VMX control live in the high half of its capability MSR: a control
// bit may be set to 1 only if the corresponding bit 32 + n is 1 (SDM vol. 3, A.3).
[[nodiscard]] constexpr bool control_allowed(uint64_t capability_msr, unsigned control_bit) {
    return bit(capability_msr, 32 + control_bit);
}

// Primary processor-based control 31: activate secondary controls.
constexpr unsigned kActivateSecondaryControls = 31;
// Secondary processor-based controls.
constexpr unsigned kEnableEpt = 1;
constexpr unsigned kEnableVpid = 5;
constexpr unsigned kUnrestrictedGuest = 7;

} // namespace

bool cpuid_has_svm(const CpuidRegisters& leaf_80000001) {
    return bit(leaf_80000001.ecx, 2);
}

bool cpuid_has_vmx(const CpuidRegisters& leaf_1) {
    return bit(leaf_1.ecx, 5);
}

bool cpuid_vendor_is_amd(const CpuidRegisters& leaf_0) {
    return vendor_is(leaf_0, "AuthenticAMD") || vendor_is(leaf_0, "HygonGenuine");
}

SvmCpuidFeatures decode_svm_cpuid(const CpuidRegisters& leaf) {
    const uint32_t edx = leaf.edx;
    return SvmCpuidFeatures{
        .revision = static_cast<uint8_t>(leaf.eax & 0xFF),
        .asids = leaf.ebx,
        .nested_paging = bit(edx, 0),
        .lbr_virtualization = bit(edx, 1),
        .svm_lock = bit(edx, 2),
        .nrip_save = bit(edx, 3),
        .tsc_rate_msr = bit(edx, 4),
        .vmcb_clean_bits = bit(edx, 5),
        .flush_by_asid = bit(edx, 6),
        .decode_assists = bit(edx, 7),
        .pause_filter = bit(edx, 10),
        .pause_filter_threshold = bit(edx, 12),
        .avic = bit(edx, 13),
        .vmsave_virtualization = bit(edx, 15),
        .vgif = bit(edx, 16),
        .gmet = bit(edx, 17),
        .x2avic = bit(edx, 18),
        .spec_ctrl = bit(edx, 20),
        .vmcb_address_check = bit(edx, 28),
    };
}

VirtFeatures decode_svm(const CpuidRegisters& leaf_8000000a, uint64_t vm_cr) {
    VirtFeatures features;
    if ((vm_cr & kVmCrSvmDisabled) != 0) {
        // EFER.SVME would #GP: the extension exists but the firmware (BIOS setup) turned it off.
        features.disabled_by_firmware = true;
        return features;
    }
    const SvmCpuidFeatures svm = decode_svm_cpuid(leaf_8000000a);
    features.kind = Kind::svm;
    features.npt_or_ept = svm.nested_paging;
    features.nrip_save = svm.nrip_save;
    features.decode_assists = svm.decode_assists;
    features.vmcb_clean = svm.vmcb_clean_bits;
    features.flush_by_asid = svm.flush_by_asid;
    features.vgif = svm.vgif;
    features.avic = svm.avic;
    features.pause_filter = svm.pause_filter;
    features.asids = svm.asids;
    features.revision = svm.revision;
    return features;
}

bool vmx_has_secondary_controls(uint64_t procbased_controls) {
    return control_allowed(procbased_controls, kActivateSecondaryControls);
}

bool vmx_has_ept_or_vpid(uint64_t procbased_controls2) {
    return control_allowed(procbased_controls2, kEnableEpt) ||
           control_allowed(procbased_controls2, kEnableVpid);
}

VirtFeatures decode_vmx(const VmxCapabilityMsrs& msrs) {
    VirtFeatures features;
    features.feature_control_locked = (msrs.feature_control & kFeatureControlLock) != 0;
    // Locked without "VMX outside SMX" means VMXON #GPs until the next reset: firmware disabled
    // it. Unlocked is fine: the enable step sets the bit and locks the MSR itself.
    if (features.feature_control_locked &&
        (msrs.feature_control & kFeatureControlVmxOutsideSmx) == 0) {
        features.disabled_by_firmware = true;
        return features;
    }
    features.kind = Kind::vmx;
    features.revision = static_cast<uint32_t>(msrs.basic & 0x7FFF'FFFF);
    if (!vmx_has_secondary_controls(msrs.procbased_controls))
        return features;
    const uint64_t secondary = msrs.procbased_controls2;
    features.npt_or_ept = control_allowed(secondary, kEnableEpt);
    features.vpid = control_allowed(secondary, kEnableVpid);
    features.unrestricted_guest = control_allowed(secondary, kUnrestrictedGuest);
    // VPIDs are 16 bits wide and VPID 0 is the host's.
    features.asids = features.vpid ? 0xFFFF : 0;
    if (features.npt_or_ept) {
        const uint64_t cap = msrs.ept_vpid_capability;
        features.ept_4level_walk = bit(cap, 6);
        features.ept_write_back = bit(cap, 14);
        features.ept_2mb_pages = bit(cap, 16);
    }
    return features;
}

bool same_capabilities(const VirtFeatures& a, const VirtFeatures& b) {
    return a.kind == b.kind && a.disabled_by_firmware == b.disabled_by_firmware &&
           a.npt_or_ept == b.npt_or_ept && a.nrip_save == b.nrip_save &&
           a.decode_assists == b.decode_assists && a.vmcb_clean == b.vmcb_clean &&
           a.flush_by_asid == b.flush_by_asid && a.asids == b.asids && a.vpid == b.vpid &&
           a.unrestricted_guest == b.unrestricted_guest;
}

} // namespace halcyon::virt
