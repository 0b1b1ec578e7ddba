// Control-register exits: decoding the exit qualification (SDM vol. 3, table 28-3) and emulating
// the MOV to CR0/CR4 that caused it.
//
// Only writes that change a host-owned bit exit (capabilities.hpp: CR0.NE, CR4.VMXE). The guest
// then reads its own value of such a bit from the read shadow while the real register keeps
// what VMX operation needs. Linux's AP trampoline sets NE together with PG and PE when it enters
// long mode, so emulating a CR0 write means doing everything the instruction does: the #GP
// checks, EFER.LMA when paging turns on or off with EFER.LME (the "IA-32e mode guest" entry
// control must follow), and a TLB flush when the paging mode changed. A CR4 write exits only
// when the guest tries to set VMXE: VMX is not offered, so that is a #GP.
#pragma once

#include "vmm/cpu_backend.hpp"
#include "vmm/vmx/capabilities.hpp"

#include <stdint.h>

namespace halcyon::vmx {

enum class CrAccessKind : uint8_t { mov_to_cr = 0, mov_from_cr = 1, clts = 2, lmsw = 3 };

struct CrAccess {
    uint8_t control_register = 0;
    CrAccessKind kind = CrAccessKind::mov_to_cr;
    uint8_t general_register = 0; // x86 register number (0 = RAX, 1 = RCX, ..., 15 = R15)
    uint16_t lmsw_source = 0;
};

[[nodiscard]] CrAccess decode_cr_access(uint64_t qualification);

// The general register with x86 number `number` (0 RAX, 1 RCX, 2 RDX, 3 RBX, 4 RSP, 5 RBP,
// 6 RSI, 7 RDI, 8-15 R8-R15).
[[nodiscard]] uint64_t& register_by_number(vmm::GeneralRegisters& registers, uint8_t number);

// CR0/CR4 as the VMCS holds them: the real registers and the read shadows.
struct ControlRegisters {
    uint64_t cr0 = 0, cr0_shadow = 0;
    uint64_t cr4 = 0, cr4_shadow = 0;
    uint64_t efer = 0;
    bool code_64bit = false; // CS.L with EFER.LMA: 64-bit code (the operand is 64-bit)

    // What the guest reads: its own values for the bits the host owns.
    [[nodiscard]] uint64_t visible_cr0(const VmxConfiguration& config) const {
        return (cr0 & ~config.cr0_guest_host_mask) | (cr0_shadow & config.cr0_guest_host_mask);
    }
    [[nodiscard]] uint64_t visible_cr4(const VmxConfiguration& config) const {
        return (cr4 & ~config.cr4_guest_host_mask) | (cr4_shadow & config.cr4_guest_host_mask);
    }
};

// The VMCS values for a guest-visible CR0/CR4 (set_system_registers and the emulation share it).
[[nodiscard]] ControlRegisters control_registers_for(uint64_t guest_cr0, uint64_t guest_cr4,
                                                     uint64_t efer, const VmxConfiguration& config);

struct CrWriteOutcome {
    bool general_protection = false; // inject #GP(0), change nothing
    ControlRegisters registers;      // the new values otherwise
    bool flush_tlb = false;          // the paging mode changed: drop the guest's translations
};

[[nodiscard]] CrWriteOutcome emulate_cr0_write(const ControlRegisters& current, uint64_t value,
                                               const VmxConfiguration& config);
[[nodiscard]] CrWriteOutcome emulate_cr4_write(const ControlRegisters& current, uint64_t value,
                                               const VmxConfiguration& config);

} // namespace halcyon::vmx
