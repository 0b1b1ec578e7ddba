// What a VMX CPU allows, from its capability MSRs, and the control settings Halcyon runs guests
// with (Intel SDM vol. 3, appendix A and chapter 25).
//
// Every VM-execution, VM-exit and VM-entry control is computed, never hard-coded: a capability
// MSR reports in its low half the bits that must be 1 ("allowed-0 settings": a 1 there means the
// control cannot be 0) and in its high half the bits that may be 1 (allowed-1 settings). When
// IA32_VMX_BASIC bit 55 is set the TRUE_* MSRs replace the pin-based, primary, exit and entry
// MSRs; they report the "default1" controls that can in fact be cleared (CR3-load exiting...).
//
// Halcyon's needs per control are: required (the backend does not work without it), desired
// (used when present), toggled (switched at run time, e.g. interrupt-window exiting: the CPU must
// allow both settings) and must-be-clear (the design breaks if the CPU forces it to 1). A missing
// requirement is an Error whose message names the control and the MSR bit.
//
// Pure: the MSR values come in as integers, so the same code runs in the core and in unit tests
// against the published capability values of real CPUs.
#pragma once

#include "lib/base/error_or.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vmx {

// The capability MSRs as read on one CPU. The conditional ones are 0 when the CPU does not have
// them (reading them would #GP): see has_true_controls/has_secondary_controls/has_ept_vpid_cap.
struct VmxMsrValues {
    uint64_t basic = 0;
    uint64_t pin_based = 0;
    uint64_t processor = 0;
    uint64_t exit = 0;
    uint64_t entry = 0;
    uint64_t misc = 0;
    uint64_t cr0_fixed0 = 0, cr0_fixed1 = 0;
    uint64_t cr4_fixed0 = 0, cr4_fixed1 = 0;
    uint64_t processor2 = 0;          // IA32_VMX_PROCBASED_CTLS2
    uint64_t ept_vpid_capability = 0; // IA32_VMX_EPT_VPID_CAP
    uint64_t true_pin_based = 0, true_processor = 0, true_exit = 0, true_entry = 0;
};

// Which of the conditional MSRs exist (the order the core reads them in).
[[nodiscard]] bool has_true_controls(uint64_t basic);
[[nodiscard]] bool has_secondary_controls(uint64_t processor);
[[nodiscard]] bool has_ept_vpid_capability(uint64_t processor2);

// The bits of CR0 or CR4 VMX operation fixes: bit n must be 1 if must_be_one has it, and may be 1
// only if may_be_one has it.
struct FixedBits {
    uint64_t must_be_one = 0;
    uint64_t may_be_one = ~0ull;

    [[nodiscard]] constexpr uint64_t apply(uint64_t value) const {
        return (value | must_be_one) & may_be_one;
    }
    [[nodiscard]] constexpr bool allows(uint64_t value) const { return apply(value) == value; }
    // The lowest bit `value` gets wrong, or -1.
    [[nodiscard]] int first_violation(uint64_t value) const;
};

// One control family's needs (see the file comment).
struct ControlRequest {
    uint32_t required = 0;
    uint32_t desired = 0;
    uint32_t toggled_required = 0;
    uint32_t toggled_desired = 0;
    uint32_t must_be_clear = 0;
};

// A control bit with the static messages its errors carry.
struct NamedControl {
    uint32_t mask;
    const char* name;
    const char* cannot_set;   // required, the CPU does not allow 1
    const char* cannot_clear; // must be (or become) 0, the CPU forces 1
};

struct ResolvedControl {
    uint32_t value = 0;   // what goes into the VMCS (toggles cleared)
    uint32_t toggles = 0; // bits that may be switched at run time
};

// Resolves one family against its capability MSR (allowed-0 in bits 31:0, allowed-1 in 63:32).
// `names` must name every bit `request` mentions; errors carry the named control's message.
[[nodiscard]] ErrorOr<ResolvedControl> resolve_control(uint64_t capability,
                                                       const ControlRequest& request,
                                                       std::span<const NamedControl> names);

// Everything the backend needs to know about this CPU's VMX, computed once.
struct VmxConfiguration {
    uint32_t revision = 0;    // VMCS revision identifier (first dword of VMXON/VMCS regions)
    uint32_t region_size = 0; // bytes of the VMXON and VMCS regions (at most 4096)
    bool regions_below_4g = false;
    bool true_controls = false;
    uint32_t pin_based = 0;
    uint32_t primary = 0;
    uint32_t secondary = 0;
    uint32_t exit = 0;
    uint32_t entry = 0;
    // The capability MSR each family was resolved against (TRUE_* when present), for the
    // control-field diagnostics of a failed VM entry.
    uint64_t pin_based_capability = 0;
    uint64_t primary_capability = 0;
    uint64_t secondary_capability = 0;
    uint64_t exit_capability = 0;
    uint64_t entry_capability = 0;
    // Run-time toggles.
    bool nmi_window_exiting = false; // NMI-window exiting can be switched (needs virtual NMIs)
    // Features the computed controls include.
    bool virtual_nmis = false;
    bool vpid = false;
    bool unrestricted_guest = false;
    bool pause_exiting = false;
    bool exit_stores_lma = false; // IA32_VMX_MISC bit 5
    // EPT and VPID details.
    bool ept_2m_pages = false;
    bool ept_1g_pages = false;
    bool ept_accessed_dirty = false;
    bool invept_single_context = false;
    bool invvpid_single_context = false;
    FixedBits cr0_host, cr4_host;     // for VMXON and the host-state fields
    FixedBits cr0_guest, cr4_guest;   // for guest CR0/CR4 (PE/PG relaxed by unrestricted guest)
    uint64_t cr0_guest_host_mask = 0; // CR0 bits the guest may not own (NE)
    uint64_t cr4_guest_host_mask = 0; // CR4 bits the guest may not own (VMXE)
};

// The configuration Halcyon runs guests with, or an error naming the first missing requirement.
[[nodiscard]] ErrorOr<VmxConfiguration> compute_configuration(const VmxMsrValues& msrs);

// The EPT pointer for a PML4 at `root`: write-back paging structures, a 4-level walk, and the
// accessed/dirty flags when the configuration has them.
[[nodiscard]] uint64_t ept_pointer(uint64_t root, const VmxConfiguration& configuration);

} // namespace halcyon::vmx
