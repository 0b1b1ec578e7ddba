#include "vmm/hyperv/hypercall.hpp"

namespace halcyon::vmm::hyperv {
namespace {

constexpr uint64_t kCr0ProtectionEnable = 1u << 0;
constexpr uint64_t kEferLongModeActive = 1u << 10;
constexpr uint16_t kSegmentLong = 1u << 9; // CS.L in the packed attribute format

constexpr uint64_t combine(uint64_t high, uint64_t low) {
    return (high << 32) | static_cast<uint32_t>(low);
}

// A parameter block of `size` bytes at `address`: 8-byte aligned, within one page and within
// the guest-physical address space.
bool block_is_placed_well(uint64_t address, uint64_t size, uint64_t guest_physical_size) {
    if (size == 0)
        return true; // no block: the hypervisor ignores the pointer
    if (address % 8 != 0)
        return false;
    if ((address % kPageSize) + size > kPageSize)
        return false;
    return address < guest_physical_size && size <= guest_physical_size - address;
}

} // namespace

HypercallCaller hypercall_caller(const SystemRegisters& system) {
    return HypercallCaller{
        .protected_mode = (system.cr0 & kCr0ProtectionEnable) != 0,
        .long_mode =
            (system.efer & kEferLongModeActive) != 0 && (system.cs.attributes & kSegmentLong) != 0,
        .cpl = system.cpl,
    };
}

HypercallInput read_hypercall_input(const GeneralRegisters& regs, bool long_mode) {
    if (long_mode)
        return {regs.rcx, regs.rdx, regs.r8};
    return {combine(regs.rdx, regs.rax), combine(regs.rbx, regs.rcx), combine(regs.rdi, regs.rsi)};
}

void store_hypercall_result(GeneralRegisters& regs, bool long_mode, uint64_t result) {
    if (long_mode) {
        regs.rax = result;
        return;
    }
    regs.rax = static_cast<uint32_t>(result);
    regs.rdx = result >> 32;
}

HypercallControl decode_control(uint64_t value) {
    return HypercallControl{
        .code = static_cast<uint16_t>(value & control::kCodeMask),
        .fast = (value & control::kFast) != 0,
        .variable_header_qwords = static_cast<uint16_t>((value & control::kVariableHeaderMask) >>
                                                        control::kVariableHeaderShift),
        .rep_count =
            static_cast<uint16_t>((value >> control::kRepCountShift) & control::kRepFieldMask),
        .rep_start =
            static_cast<uint16_t>((value >> control::kRepStartShift) & control::kRepFieldMask),
        .reserved_bits_set = (value & control::kReserved) != 0,
    };
}

HvStatus check_hypercall(const HypercallControl& control, const HypercallDescriptor& descriptor,
                         const HypercallInput& input, uint64_t guest_physical_size) {
    if (descriptor.rep) {
        if (control.rep_count == 0 || control.rep_start >= control.rep_count)
            return HvStatus::invalid_hypercall_input;
    } else if (control.rep_count != 0 || control.rep_start != 0) {
        return HvStatus::invalid_hypercall_input;
    }
    if (control.variable_header_qwords != 0 && !descriptor.variable_header)
        return HvStatus::invalid_hypercall_input;
    if (control.fast ? !descriptor.fast_form : !descriptor.memory_form)
        return HvStatus::invalid_hypercall_input;
    if (control.fast)
        return HvStatus::success; // the parameters are the register values themselves

    const uint64_t reps = descriptor.rep ? control.rep_count : 0;
    const uint64_t input_size = descriptor.input_bytes +
                                uint64_t{control.variable_header_qwords} * 8 +
                                reps * descriptor.input_element_bytes;
    const uint64_t output_size = descriptor.output_bytes + reps * descriptor.output_element_bytes;
    if (!block_is_placed_well(input.input, input_size, guest_physical_size) ||
        !block_is_placed_well(input.output, output_size, guest_physical_size))
        return HvStatus::invalid_alignment;
    return HvStatus::success;
}

ValidatedHypercall validate_hypercall(const HypercallInput& input,
                                      std::span<const HypercallDescriptor> implemented,
                                      uint64_t guest_physical_size) {
    ValidatedHypercall result;
    result.control = decode_control(input.control);
    if (result.control.reserved_bits_set) {
        result.status = HvStatus::invalid_hypercall_input;
        return result;
    }
    for (const HypercallDescriptor& descriptor : implemented) {
        if (descriptor.code != result.control.code)
            continue;
        result.status = check_hypercall(result.control, descriptor, input, guest_physical_size);
        if (result.status == HvStatus::success)
            result.descriptor = &descriptor;
        return result;
    }
    result.status = HvStatus::invalid_hypercall_code;
    return result;
}

} // namespace halcyon::vmm::hyperv
