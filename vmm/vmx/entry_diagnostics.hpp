// Why a VM entry failed, in words (Intel SDM vol. 3, "VM-Instruction Error Numbers", "VM-Entry
// Failures During or After Loading Guest State", "Checks on VMX Controls and Host-State Area").
//
// VMLAUNCH/VMRESUME fail in two ways. Before the guest state is looked at, the instruction
// itself fails (VMfailValid) and the VM-instruction error field holds a number: 7 means a
// control field is wrong, 8 a host-state field. After that, a bad guest state makes a "VM exit"
// with bit 31 of the exit reason set (33: guest state, 34: MSR loading, 41: machine check) and a
// qualification. This file turns the numbers into names and re-does the control and host-state
// checks in software so that the message can name the field; guest_state_check.hpp does the same
// for the guest state.
#pragma once

#include "vmm/vmx/capabilities.hpp"
#include "vmm/vmx/guest_state_check.hpp"

#include <stdint.h>

namespace halcyon::vmx {

// The text of a VM-instruction error number, "unknown VM-instruction error" past the table.
[[nodiscard]] const char* instruction_error_name(uint32_t number);

// The text for a VM-entry failure exit (exit reason with bit 31) and its qualification.
[[nodiscard]] const char* entry_failure_name(uint32_t exit_reason, uint64_t qualification);

struct ControlSnapshot {
    uint32_t pin_based = 0, primary = 0, secondary = 0, exit = 0, entry = 0;
    uint32_t cr3_target_count = 0;
    uint64_t msr_bitmap = 0;
    uint64_t virtual_apic = 0;
    uint32_t tpr_threshold = 0;
    uint64_t ept_pointer = 0;
    uint16_t vpid = 0;
    uint32_t exit_msr_store_count = 0, exit_msr_load_count = 0, entry_msr_load_count = 0;
};

[[nodiscard]] Violation find_control_violation(const ControlSnapshot& controls,
                                               const VmxConfiguration& config);

struct HostSnapshot {
    uint64_t cr0 = 0, cr3 = 0, cr4 = 0, efer = 0, pat = 0;
    uint16_t es = 0, cs = 0, ss = 0, ds = 0, fs = 0, gs = 0, tr = 0;
    uint64_t fs_base = 0, gs_base = 0, tr_base = 0, gdtr_base = 0, idtr_base = 0;
    uint64_t sysenter_esp = 0, sysenter_eip = 0, rip = 0;
    uint32_t exit_controls = 0;
};

[[nodiscard]] Violation find_host_state_violation(const HostSnapshot& host,
                                                  const VmxConfiguration& config);

} // namespace halcyon::vmx
