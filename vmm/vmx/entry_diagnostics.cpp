#include "vmm/vmx/entry_diagnostics.hpp"

#include "vmm/vmx/control_bits.hpp"
#include "vmm/vmx/exit_reasons.hpp"

namespace halcyon::vmx {
namespace {

// Indexed by VM-instruction error number (SDM vol. 3, table 31-1); nullptr marks numbers the
// SDM leaves unassigned.
constexpr const char* kInstructionErrors[] = {
    nullptr,
    "VMCALL executed in VMX root operation",
    "VMCLEAR with invalid physical address",
    "VMCLEAR with VMXON pointer",
    "VMLAUNCH with non-clear VMCS",
    "VMRESUME with non-launched VMCS",
    "VMRESUME after VMXOFF",
    "VM entry with invalid control field(s)",
    "VM entry with invalid host-state field(s)",
    "VMPTRLD with invalid physical address",
    "VMPTRLD with VMXON pointer",
    "VMPTRLD with incorrect VMCS revision identifier",
    "VMREAD/VMWRITE from/to unsupported VMCS component",
    "VMWRITE to read-only VMCS component",
    nullptr,
    "VMXON executed in VMX root operation",
    "VM entry with invalid executive-VMCS pointer",
    "VM entry with non-launched executive VMCS",
    "VM entry with executive-VMCS pointer not VMXON pointer",
    "VMCALL with non-clear VMCS",
    "VMCALL with invalid VM-exit control fields",
    nullptr,
    "VMCALL with incorrect MSEG revision identifier",
    "VMXOFF under dual-monitor treatment of SMIs and SMM",
    "VMCALL with invalid SMM-monitor features",
    "VM entry with invalid VM-execution control fields in executive VMCS",
    "VM entry with events blocked by MOV SS",
    nullptr,
    "invalid operand to INVEPT/INVVPID",
};
constexpr uint32_t kInstructionErrorCount =
    sizeof(kInstructionErrors) / sizeof(kInstructionErrors[0]);

Violation fail(const char* check, uint64_t detail) {
    return Violation{check, detail};
}

// A control word against its capability MSR: every allowed-0 bit set, nothing outside allowed-1.
bool control_allowed(uint32_t value, uint64_t capability) {
    const auto must_be_one = static_cast<uint32_t>(capability);
    const auto may_be_one = static_cast<uint32_t>(capability >> 32);
    return (value & must_be_one) == must_be_one && (value & ~may_be_one) == 0;
}

bool valid_memory_type(uint64_t type) {
    return type == 0 || type == 1 || type == 4 || type == 5 || type == 6 || type == 7;
}

} // namespace

const char* instruction_error_name(uint32_t number) {
    if (number < kInstructionErrorCount && kInstructionErrors[number] != nullptr)
        return kInstructionErrors[number];
    return "unknown VM-instruction error";
}

const char* entry_failure_name(uint32_t reason, uint64_t qualification) {
    switch (reason & exit_reason::kBasicMask) {
    case exit_reason::kInvalidGuestState:
        switch (qualification) {
        case 2:
            return "VM entry failed: invalid guest state (PDPTE loading failed)";
        case 3:
            return "VM entry failed: invalid guest state (NMI injection with blocking by NMI)";
        case 4:
            return "VM entry failed: invalid guest state (invalid VMCS link pointer)";
        default:
            return "VM entry failed: invalid guest state";
        }
    case exit_reason::kMsrLoading:
        return "VM entry failed: loading an MSR of the VM-entry MSR-load area";
    case exit_reason::kMachineCheckDuringEntry:
        return "VM entry failed: machine-check event during VM entry";
    default:
        return "VM entry failed";
    }
}

Violation find_control_violation(const ControlSnapshot& c, const VmxConfiguration& config) {
    if (!control_allowed(c.pin_based, config.pin_based_capability))
        return fail("pin-based controls break the CPU's allowed-0/allowed-1 settings", c.pin_based);
    if (!control_allowed(c.primary, config.primary_capability))
        return fail("primary processor-based controls break the allowed settings", c.primary);
    if ((c.primary & primary::kActivateSecondaryControls) != 0 &&
        !control_allowed(c.secondary, config.secondary_capability))
        return fail("secondary processor-based controls break the allowed settings", c.secondary);
    if (!control_allowed(c.exit, config.exit_capability))
        return fail("VM-exit controls break the allowed settings", c.exit);
    if (!control_allowed(c.entry, config.entry_capability))
        return fail("VM-entry controls break the allowed settings", c.entry);
    if (c.cr3_target_count > 4)
        return fail("CR3-target count exceeds 4", c.cr3_target_count);
    if ((c.primary & primary::kUseMsrBitmaps) != 0 && (c.msr_bitmap & 0xFFF) != 0)
        return fail("MSR-bitmap address is not 4 KiB aligned", c.msr_bitmap);
    if ((c.primary & primary::kUseTprShadow) != 0) {
        if ((c.virtual_apic & 0xFFF) != 0 || c.virtual_apic == 0)
            return fail("virtual-APIC address is not a 4 KiB-aligned page", c.virtual_apic);
        if ((c.tpr_threshold >> 4) != 0)
            return fail("TPR threshold bits 31:4 are not zero", c.tpr_threshold);
    }
    if ((c.pin_based & pin::kNmiExiting) == 0 && (c.pin_based & pin::kVirtualNmis) != 0)
        return fail("virtual NMIs without NMI exiting", c.pin_based);
    if ((c.pin_based & pin::kVirtualNmis) == 0 && (c.primary & primary::kNmiWindowExiting) != 0)
        return fail("NMI-window exiting without virtual NMIs", c.primary);
    const uint32_t secondary_value =
        (c.primary & primary::kActivateSecondaryControls) != 0 ? c.secondary : 0;
    if ((secondary_value & secondary::kEnableEpt) != 0) {
        const uint64_t type = c.ept_pointer & 7;
        if (type != 0 && type != 6)
            return fail("EPT pointer memory type is neither UC nor WB", c.ept_pointer);
        if (((c.ept_pointer >> 3) & 7) != 3)
            return fail("EPT pointer page-walk length is not 4 levels", c.ept_pointer);
        if ((c.ept_pointer & (1ull << 6)) != 0 && !config.ept_accessed_dirty)
            return fail("EPT pointer enables accessed/dirty flags the CPU does not have",
                        c.ept_pointer);
        if ((c.ept_pointer & 0xF80) != 0 || (c.ept_pointer >> 52) != 0)
            return fail("EPT pointer has reserved bits set", c.ept_pointer);
    }
    if ((secondary_value & secondary::kEnableVpid) != 0 && c.vpid == 0)
        return fail("VPID is enabled but the VPID field is 0 (the host's)", c.vpid);
    if ((secondary_value & secondary::kUnrestrictedGuest) != 0 &&
        (secondary_value & secondary::kEnableEpt) == 0)
        return fail("unrestricted guest without EPT", secondary_value);
    if (c.exit_msr_store_count != 0 || c.exit_msr_load_count != 0 || c.entry_msr_load_count != 0)
        return fail("MSR-load/store areas are in use (Halcyon never uses them)",
                    c.entry_msr_load_count);
    return {};
}

Violation find_host_state_violation(const HostSnapshot& h, const VmxConfiguration& config) {
    if (const int bit = config.cr0_host.first_violation(h.cr0); bit >= 0)
        return fail("host CR0 breaks IA32_VMX_CR0_FIXED0/FIXED1 (detail: bit)", bit);
    if (const int bit = config.cr4_host.first_violation(h.cr4); bit >= 0)
        return fail("host CR4 breaks IA32_VMX_CR4_FIXED0/FIXED1 (detail: bit)", bit);
    if ((h.cr3 >> 52) != 0)
        return fail("host CR3 sets bits beyond the physical-address width", h.cr3);
    const bool host64 = (h.exit_controls & exit_control::kHostAddressSpaceSize) != 0;
    if (!host64)
        return fail("\"host address-space size\" is clear for a 64-bit host", h.exit_controls);
    if ((h.cr4 & cr4::kPae) == 0)
        return fail("host CR4.PAE is clear with a 64-bit host", h.cr4);
    const uint16_t selectors[] = {h.es, h.cs, h.ss, h.ds, h.fs, h.gs, h.tr};
    for (uint16_t selector : selectors) {
        if ((selector & 7) != 0)
            return fail("a host selector has RPL or TI set", selector);
    }
    if (h.cs == 0 || h.tr == 0)
        return fail("host CS or TR selector is 0", h.cs == 0 ? h.cs : h.tr);
    const uint64_t bases[] = {h.fs_base,   h.gs_base,      h.tr_base,     h.gdtr_base,
                              h.idtr_base, h.sysenter_esp, h.sysenter_eip};
    for (uint64_t base : bases) {
        if (!is_canonical(base))
            return fail("a host base address (FS, GS, TR, GDTR, IDTR, SYSENTER) is not canonical",
                        base);
    }
    if (!is_canonical(h.rip))
        return fail("host RIP is not canonical", h.rip);
    if ((h.efer & efer::kLma) == 0 || (h.efer & efer::kLme) == 0)
        return fail("host EFER.LMA/LME are not both set for a 64-bit host", h.efer);
    if ((h.efer & ~efer::kDefined) != 0)
        return fail("host EFER has reserved bits set", h.efer);
    for (int i = 0; i < 8; ++i) {
        if (!valid_memory_type((h.pat >> (8 * i)) & 0xFF))
            return fail("host PAT holds an invalid memory type", h.pat);
    }
    return {};
}

} // namespace halcyon::vmx
