// HvGetVpRegisters / HvSetVpRegisters on a child's vCPU: TLFS register names to the fields of
// cpu_backend.hpp's register structures, with the checks that keep a root from handing the
// hardware a value it would reject or misread (reserved control-register bits, EFER.SVME,
// PAT memory types, reserved segment attribute bits). Pure code.
//
// Supported: RAX-R15, RIP, RFLAGS, CR0, CR2, CR3, CR4, ES/CS/SS/DS/FS/GS/LDTR/TR, IDTR, GDTR,
// EFER, PAT, and the explicit-suspend register (HV_REGISTER_EXPLICIT_SUSPEND, bit 0: the VP is
// not dispatched while set). Anything else is HV_STATUS_INVALID_PARAMETER.
#pragma once

#include "vmm/cpu_backend.hpp"
#include "vmm/root/abi.hpp"
#include "vmm/root/codec.hpp"

#include <stdint.h>

namespace halcyon::vmm::root {

// The state of one vCPU the two calls work on: read from the partition, changed, written back.
struct VpRegisterState {
    GeneralRegisters general{};
    SystemRegisters system{};
    bool explicit_suspend = false;
};

// invalid_parameter for a name outside the supported set.
[[nodiscard]] Status read_register(uint32_t name, const VpRegisterState& state,
                                   RegisterValue& value);
// invalid_parameter for an unsupported name; invalid_register_value for a value the register
// cannot hold (reserved bits, bits beyond 64 for a 64-bit register, unknown PAT types).
// Writing SS sets the CPL to SS.DPL (as the SVM VMCB's CPL field must match it).
[[nodiscard]] Status write_register(uint32_t name, const RegisterValue& value,
                                    VpRegisterState& state);

// The values the checks allow (for tests and docs).
inline constexpr uint64_t kCr0Allowed = 0xE005'003F; // PE MP EM TS ET NE WP AM NW CD PG
// VME through UMIP, FSGSBASE, PCIDE, OSXSAVE, SMEP, SMAP. Not VMXE/SMXE (nested virtualization and
// SMX are hidden), LA57 (4-level nested tables) or PKE (PKRU is not switched).
inline constexpr uint64_t kCr4Allowed = 0x0037'0FFF;
inline constexpr uint64_t kEferAllowed = 0x0D01; // SCE LME LMA NXE

} // namespace halcyon::vmm::root
