// The checks VM entry makes on the guest-state area and the event-injection fields (Intel SDM
// vol. 3, "Checks on the Guest State Area" and "Checks on VM-Execution/VM-Entry Control Fields"),
// re-done in software so that a failed entry can name the check that failed.
//
// The CPU only says "invalid guest state" (exit reason 33 with bit 31), or VM-instruction error
// 7 for a bad injection field; it never says which of the few hundred conditions it disliked.
// When an entry fails the backend reads the VMCS into a GuestStateSnapshot and runs these checks
// in the SDM's order; the first one that fails is logged by name with its detail value. The
// checks cover what Halcyon's loaders, the partition and guest execution can get wrong (control
// registers, EFER/PAT, segment registers, descriptor tables, RIP/RFLAGS, activity and
// interruptibility, pending debug exceptions, the link pointer, the injected event); they do
// not cover what the backend never uses (virtual-8086 mode details, SMM, PDPTEs, shadow VMCS).
#pragma once

#include "vmm/vmx/capabilities.hpp"
#include "vmm/vmx/segment_access.hpp"
#include "vmm/vmx/vmcs_fields.hpp"

#include <stdint.h>

namespace halcyon::vmx {

struct GuestStateSnapshot {
    uint64_t cr0 = 0, cr3 = 0, cr4 = 0, dr7 = 0;
    uint64_t rsp = 0, rip = 0, rflags = 0;
    uint64_t efer = 0, pat = 0;
    uint64_t sysenter_esp = 0, sysenter_eip = 0;
    uint64_t pending_debug_exceptions = 0;
    VmxSegment segments[kSegmentRegisterCount]; // es, cs, ss, ds, fs, gs, ldtr, tr
    uint64_t gdtr_base = 0, idtr_base = 0;
    uint32_t gdtr_limit = 0, idtr_limit = 0;
    uint32_t interruptibility = 0;
    uint32_t activity_state = 0;
    uint64_t vmcs_link_pointer = ~0ull;
    // The controls the checks depend on.
    uint32_t pin_based = 0;
    uint32_t secondary = 0;
    uint32_t entry_controls = 0;
    uint32_t entry_interruption_info = 0;
    uint32_t entry_exception_error_code = 0;
    uint32_t entry_instruction_length = 0;

    [[nodiscard]] const VmxSegment& segment(SegmentRegister which) const {
        return segments[static_cast<int>(which)];
    }
};

// A failed check: its name (static text) and the value that failed it. `check` is null when
// every check passed.
struct Violation {
    const char* check = nullptr;
    uint64_t detail = 0;

    [[nodiscard]] explicit operator bool() const { return check != nullptr; }
};

[[nodiscard]] Violation find_guest_state_violation(const GuestStateSnapshot& state,
                                                   const VmxConfiguration& config);

// The VM-entry event-injection checks alone (part of the control-field checks: a failure there
// is VM-instruction error 7, not an exit).
[[nodiscard]] Violation find_event_injection_violation(const GuestStateSnapshot& state);

[[nodiscard]] constexpr bool is_canonical(uint64_t address) {
    const auto high = static_cast<int64_t>(address) >> 47;
    return high == 0 || high == -1;
}

} // namespace halcyon::vmx
