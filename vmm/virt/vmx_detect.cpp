// Intel VMX detection from CPUID and the VMX capability MSRs (Intel SDM vol. 3, appendix A).
// Detection only: IA32_FEATURE_CONTROL is read, never written, and no VMXON is executed here.
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/virt/virt_cpu.hpp"

namespace halcyon::virt {

VirtFeatures detect_vmx() {
    // The capability MSRs exist only when CPUID.1:ECX.VMX is set (the caller checked), and
    // PROCBASED_CTLS2 / EPT_VPID_CAP only when the controls they describe can be enabled.
    VmxCapabilityMsrs msrs{};
    msrs.feature_control = x86::rdmsr(x86::msr::kFeatureControl);
    msrs.basic = x86::rdmsr(vmx_msr::kBasic);
    msrs.procbased_controls = x86::rdmsr(vmx_msr::kProcbasedControls);
    if (vmx_has_secondary_controls(msrs.procbased_controls)) {
        msrs.procbased_controls2 = x86::rdmsr(vmx_msr::kProcbasedControls2);
        if (vmx_has_ept_or_vpid(msrs.procbased_controls2))
            msrs.ept_vpid_capability = x86::rdmsr(vmx_msr::kEptVpidCapability);
    }
    return decode_vmx(msrs);
}

} // namespace halcyon::virt
