// Intel VMX: detection from CPUID and the capability MSRs, and entering VMX operation on this CPU
// (Intel SDM vol. 3, 24.7 "Enabling and Entering VMX Operation"):
//   1. IA32_FEATURE_CONTROL must allow VMXON outside SMX. Locked without that bit, firmware has
//      disabled VMX until the next reset; unlocked, we set the bit and lock the MSR ourselves
//      (VMXON #GPs while the MSR is unlocked).
//   2. CR0 and CR4 must hold the values IA32_VMX_CR0/CR4_FIXED0/1 demand (CR4.VMXE, CR0.NE).
//   3. VMXON with a 4 KiB-aligned region whose first dword is the VMCS revision identifier.
// Every CPU does this at bring-up (before any VM exists): VMX root operation changes nothing for
// the host except that INIT is held pending, which the core never receives after start-up.
// The control configuration of the VT-x backend is computed here from the BSP's MSRs; a CPU
// whose MSRs do not give Halcyon what it needs reports VMX without EPT (npt=0), naming the
// missing control in the log.
#include "boot/handoff/handoff.hpp"
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/core/log.hpp"
#include "vmm/virt/virt_cpu.hpp"
#include "vmm/vmx/capabilities.hpp"
#include "vmm/vmx/control_bits.hpp"
#include "vmm/vmx/hw/vmx_host.hpp"
#include "vmm/vmx/hw/vmx_instructions.hpp"

#include <string.h>

namespace halcyon::virt {
namespace {

void log_capability_msrs(const vmx::VmxMsrValues& m) {
    using ull = unsigned long long;
    // Two lines: the log's line buffer holds 512 characters.
    log::info("virt: VMX capability MSRs basic=%#llx pin=%#llx proc=%#llx exit=%#llx entry=%#llx "
              "misc=%#llx cr0_fixed=%#llx/%#llx cr4_fixed=%#llx/%#llx",
              static_cast<ull>(m.basic), static_cast<ull>(m.pin_based),
              static_cast<ull>(m.processor), static_cast<ull>(m.exit), static_cast<ull>(m.entry),
              static_cast<ull>(m.misc), static_cast<ull>(m.cr0_fixed0),
              static_cast<ull>(m.cr0_fixed1), static_cast<ull>(m.cr4_fixed0),
              static_cast<ull>(m.cr4_fixed1));
    log::info("virt: VMX capability MSRs proc2=%#llx ept_vpid=%#llx true_pin=%#llx "
              "true_proc=%#llx true_exit=%#llx true_entry=%#llx",
              static_cast<ull>(m.processor2), static_cast<ull>(m.ept_vpid_capability),
              static_cast<ull>(m.true_pin_based), static_cast<ull>(m.true_processor),
              static_cast<ull>(m.true_exit), static_cast<ull>(m.true_entry));
}

} // namespace

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

ErrorOr<void> enable_vmx(CpuVirtualization& state, mm::FrameAllocator& frames) {
    state.features = detect_vmx();
    if (state.features.kind != Kind::vmx)
        return {}; // disabled by firmware: reported through features

    const vmx::VmxMsrValues msrs = vmx::hw::read_capability_msrs();
    if (vmx::hw::configuration() == nullptr)
        log_capability_msrs(msrs);
    auto computed = vmx::compute_configuration(msrs);
    if (computed.is_error()) {
        // VMX exists but cannot run Halcyon's guests: say why, report no EPT.
        log::warn("virt: %s", computed.error().message());
        state.features.npt_or_ept = false;
    } else {
        vmx::hw::record_configuration(computed.value());
    }

    uint64_t feature_control = x86::rdmsr(x86::msr::kFeatureControl);
    if ((feature_control & vmx::feature_control::kLock) == 0) {
        feature_control |= vmx::feature_control::kLock | vmx::feature_control::kVmxOutsideSmx;
        x86::wrmsr(x86::msr::kFeatureControl, feature_control);
    }

    const uint64_t cr0_fixed0 = msrs.cr0_fixed0, cr0_fixed1 = msrs.cr0_fixed1;
    const uint64_t cr4_fixed0 = msrs.cr4_fixed0, cr4_fixed1 = msrs.cr4_fixed1;
    const uint64_t cr0 = (x86::read_cr0() | cr0_fixed0) & (cr0_fixed1 | cr0_fixed0);
    const uint64_t cr4 = (x86::read_cr4() | cr4_fixed0 | vmx::cr4::kVmxe) &
                         (cr4_fixed1 | cr4_fixed0 | vmx::cr4::kVmxe);
    if (cr0 != x86::read_cr0())
        x86::write_cr0(cr0);
    if (cr4 != x86::read_cr4())
        x86::write_cr4(cr4);

    if (state.vmxon_region == 0) {
        const uint64_t region = TRY(frames.allocate(1));
        if ((msrs.basic & vmx::basic::kAddressesBelow4G) != 0 && region >= (1ull << 32)) {
            (void)frames.free(region, 1);
            return Error(ErrorCode::not_supported,
                         "VMXON region above 4 GiB on a CPU limited to 32-bit VMX addresses");
        }
        auto* bytes = reinterpret_cast<uint8_t*>(handoff::kDirectMapBase + region);
        memset(bytes, 0, mm::kPageSize);
        const auto revision = static_cast<uint32_t>(msrs.basic & vmx::basic::kRevisionMask);
        memcpy(bytes, &revision, sizeof(revision));
        state.vmxon_region = region;
    }
    switch (vmx::hw::vmxon(state.vmxon_region)) {
    case vmx::hw::VmxResult::success:
        break;
    case vmx::hw::VmxResult::fail_invalid:
        return Error(ErrorCode::not_supported, "VMXON failed (VMfailInvalid: bad VMXON region)");
    case vmx::hw::VmxResult::fail_valid:
        return Error(ErrorCode::busy, "VMXON failed: the CPU is already in VMX operation");
    }
    state.enabled = true;
    return {};
}

} // namespace halcyon::virt
