// Hypercalls as the TLFS "Hypercall Interface" defines them: the caller's mode, the register
// conventions, the hypercall input value (control) and the checks common to every hypercall.
// Pure functions; HypervPartition::hypercall (partition.hpp) puts them together.
//
// Registers (64-bit caller / 32-bit caller):
//   control  RCX / EDX:EAX     input  RDX / EBX:ECX     output  R8 / EDI:ESI
//   result   RAX / EDX:EAX     (status in bits 15:0, reps completed in bits 43:32)
// Input and output are guest-physical addresses of the parameter blocks, or for a "fast" call
// the parameters themselves. XMM fast input is not offered (CPUID 0x40000003 EDX[4] is clear).
#pragma once

#include "vmm/cpu_backend.hpp"
#include "vmm/hyperv/tlfs.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vmm::hyperv {

// Where the hypercall came from. The TLFS allows hypercalls only at CPL 0 in protected mode
// (long mode included); anything else gets #UD. `long_mode` (EFER.LMA and CS.L) selects the
// 64-bit register convention.
struct HypercallCaller {
    bool protected_mode = true;
    bool long_mode = true;
    uint8_t cpl = 0;
};
[[nodiscard]] HypercallCaller hypercall_caller(const SystemRegisters& system);

struct HypercallInput {
    uint64_t control = 0;
    uint64_t input = 0;
    uint64_t output = 0;
};
[[nodiscard]] HypercallInput read_hypercall_input(const GeneralRegisters& regs, bool long_mode);
void store_hypercall_result(GeneralRegisters& regs, bool long_mode, uint64_t result);

// The hypercall result value.
[[nodiscard]] constexpr uint64_t hypercall_result(HvStatus status, uint16_t reps_completed = 0) {
    return static_cast<uint64_t>(status) |
           (static_cast<uint64_t>(reps_completed & control::kRepFieldMask) << kResultRepsShift);
}

// The fields of a hypercall input value.
struct HypercallControl {
    uint16_t code = 0;
    bool fast = false;
    uint16_t variable_header_qwords = 0;
    uint16_t rep_count = 0;
    uint16_t rep_start = 0;
    bool reserved_bits_set = false; // any RsvdZ bit (31:27, 47:44, 63:60) is one
};
[[nodiscard]] HypercallControl decode_control(uint64_t control);

// What a hypercall accepts, for the common checks. Sizes are those of the memory form.
struct HypercallDescriptor {
    uint16_t code = 0;
    bool rep = false;             // a rep hypercall: needs a rep count, takes element lists
    bool memory_form = true;      // may be called with parameter blocks in guest memory
    bool fast_form = false;       // may be called with the parameters in registers
    bool variable_header = false; // documented as taking a variable-size input header
    uint16_t input_bytes = 0;     // fixed input header
    uint16_t input_element_bytes = 0;
    uint16_t output_bytes = 0;
    uint16_t output_element_bytes = 0;
};

// The TLFS's common status codes for a call of `descriptor`:
//   invalid_hypercall_input  rep count 0 for a rep call or non-zero for a simple one, rep start
//                            not below rep count, rep start non-zero for a simple call, a
//                            variable header the call does not take, a calling form (fast or
//                            memory) the call does not have
//   invalid_alignment        (memory form) an input or output block not 8-byte aligned, one
//                            that crosses a page, or one not within the guest-physical space
// success if none applies. Reserved bits and unknown codes are validate_hypercall's business.
[[nodiscard]] HvStatus check_hypercall(const HypercallControl& control,
                                       const HypercallDescriptor& descriptor,
                                       const HypercallInput& input, uint64_t guest_physical_size);

struct ValidatedHypercall {
    HvStatus status = HvStatus::invalid_hypercall_code;
    const HypercallDescriptor* descriptor = nullptr; // set when status is success
    HypercallControl control;
};
// Reserved control bits -> invalid_hypercall_input; a code not in `implemented` ->
// invalid_hypercall_code; then check_hypercall.
[[nodiscard]] ValidatedHypercall
validate_hypercall(const HypercallInput& input, std::span<const HypercallDescriptor> implemented,
                   uint64_t guest_physical_size);

} // namespace halcyon::vmm::hyperv
