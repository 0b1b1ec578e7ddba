#include "vmm/vmx/cr_access.hpp"

#include "vmm/vmx/control_bits.hpp"

namespace halcyon::vmx {
namespace {

using Field = uint64_t vmm::GeneralRegisters::*;
constexpr Field kByNumber[16] = {
    &vmm::GeneralRegisters::rax, &vmm::GeneralRegisters::rcx, &vmm::GeneralRegisters::rdx,
    &vmm::GeneralRegisters::rbx, &vmm::GeneralRegisters::rsp, &vmm::GeneralRegisters::rbp,
    &vmm::GeneralRegisters::rsi, &vmm::GeneralRegisters::rdi, &vmm::GeneralRegisters::r8,
    &vmm::GeneralRegisters::r9,  &vmm::GeneralRegisters::r10, &vmm::GeneralRegisters::r11,
    &vmm::GeneralRegisters::r12, &vmm::GeneralRegisters::r13, &vmm::GeneralRegisters::r14,
    &vmm::GeneralRegisters::r15,
};

CrWriteOutcome fault() {
    CrWriteOutcome outcome;
    outcome.general_protection = true;
    return outcome;
}

} // namespace

CrAccess decode_cr_access(uint64_t qualification) {
    return CrAccess{
        .control_register = static_cast<uint8_t>(qualification & 0xF),
        .kind = static_cast<CrAccessKind>((qualification >> 4) & 3),
        .general_register = static_cast<uint8_t>((qualification >> 8) & 0xF),
        .lmsw_source = static_cast<uint16_t>(qualification >> 16),
    };
}

uint64_t& register_by_number(vmm::GeneralRegisters& registers, uint8_t number) {
    return registers.*kByNumber[number & 0xF];
}

ControlRegisters control_registers_for(uint64_t guest_cr0, uint64_t guest_cr4, uint64_t efer_value,
                                       const VmxConfiguration& config) {
    ControlRegisters registers;
    registers.cr0 = config.cr0_guest.apply(guest_cr0);
    registers.cr0_shadow = guest_cr0;
    registers.cr4 = config.cr4_guest.apply(guest_cr4);
    registers.cr4_shadow = guest_cr4;
    registers.efer = efer_value;
    return registers;
}

CrWriteOutcome emulate_cr0_write(const ControlRegisters& current, uint64_t value,
                                 const VmxConfiguration& config) {
    // ET is hard-wired to 1 since the i486DX: MOV to CR0 cannot clear it.
    value |= cr0::kEt;
    const uint64_t old = current.visible_cr0(config);
    const uint64_t cr4_value = current.visible_cr4(config);
    if ((value >> 32) != 0)
        return fault();
    if ((value & cr0::kPg) != 0 && (value & cr0::kPe) == 0)
        return fault();
    if ((value & cr0::kNw) != 0 && (value & cr0::kCd) == 0)
        return fault();
    const bool paging_on = (value & cr0::kPg) != 0 && (old & cr0::kPg) == 0;
    const bool paging_off = (value & cr0::kPg) == 0 && (old & cr0::kPg) != 0;
    if (paging_on && (current.efer & efer::kLme) != 0 && (cr4_value & cr4::kPae) == 0)
        return fault(); // long mode needs PAE
    if (paging_off && (current.code_64bit || (cr4_value & cr4::kPcide) != 0))
        return fault(); // leaving long mode from 64-bit code, or with PCIDs on
    // Bits the guest owns must still obey VMX's fixed bits (without unrestricted guest PE and PG
    // stay 1): the CPU would refuse such a write with #GP too.
    const uint64_t guest_owned = value & ~config.cr0_guest_host_mask;
    if (!config.cr0_guest.allows(guest_owned |
                                 (config.cr0_guest.must_be_one & config.cr0_guest_host_mask)))
        return fault();

    CrWriteOutcome outcome;
    outcome.registers = current;
    outcome.registers.cr0 = config.cr0_guest.apply(value);
    outcome.registers.cr0_shadow = value;
    if (paging_on && (current.efer & efer::kLme) != 0)
        outcome.registers.efer |= efer::kLma;
    if (paging_off)
        outcome.registers.efer &= ~efer::kLma;
    outcome.flush_tlb = ((old ^ value) & (cr0::kPg | cr0::kPe | cr0::kWp | cr0::kCd)) != 0;
    return outcome;
}

CrWriteOutcome emulate_cr4_write(const ControlRegisters& current, uint64_t value,
                                 const VmxConfiguration& config) {
    // VMXE is the only host-owned CR4 bit, and VMX is not offered to guests.
    if ((value & cr4::kVmxe) != 0)
        return fault();
    const uint64_t guest_owned = value & ~config.cr4_guest_host_mask;
    if (!config.cr4_guest.allows(guest_owned |
                                 (config.cr4_guest.must_be_one & config.cr4_guest_host_mask)))
        return fault();
    if ((current.efer & efer::kLma) != 0 && (value & cr4::kPae) == 0)
        return fault(); // long mode cannot drop PAE
    CrWriteOutcome outcome;
    outcome.registers = current;
    outcome.registers.cr4 = config.cr4_guest.apply(value);
    outcome.registers.cr4_shadow = value;
    outcome.flush_tlb = ((current.visible_cr4(config) ^ value) & ~config.cr4_guest_host_mask) != 0;
    return outcome;
}

} // namespace halcyon::vmx
