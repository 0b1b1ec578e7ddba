// The VMX instructions as typed inline functions (Intel SDM vol. 3, chapter 31). Each reports the
// architectural outcome through RFLAGS: CF = 1 is VMfailInvalid (no current VMCS, bad operand),
// ZF = 1 is VMfailValid (the VM-instruction error field of the current VMCS says why), both
// clear is success. Core only: these fault (#UD) outside VMX operation.
#pragma once

#include "vmm/vmx/vmcs_fields.hpp"

#include <stdint.h>

namespace halcyon::vmx::hw {

enum class VmxResult : uint8_t { success, fail_invalid, fail_valid };

[[nodiscard]] constexpr VmxResult vmx_result(bool carry, bool zero) {
    return carry ? VmxResult::fail_invalid : zero ? VmxResult::fail_valid : VmxResult::success;
}

[[nodiscard]] inline VmxResult vmxon(uint64_t region_physical) {
    bool carry, zero;
    asm volatile("vmxon %[region]"
                 : "=@ccc"(carry), "=@ccz"(zero)
                 : [region] "m"(region_physical)
                 : "memory", "cc");
    return vmx_result(carry, zero);
}

[[nodiscard]] inline VmxResult vmclear(uint64_t vmcs_physical) {
    bool carry, zero;
    asm volatile("vmclear %[vmcs]"
                 : "=@ccc"(carry), "=@ccz"(zero)
                 : [vmcs] "m"(vmcs_physical)
                 : "memory", "cc");
    return vmx_result(carry, zero);
}

[[nodiscard]] inline VmxResult vmptrld(uint64_t vmcs_physical) {
    bool carry, zero;
    asm volatile("vmptrld %[vmcs]"
                 : "=@ccc"(carry), "=@ccz"(zero)
                 : [vmcs] "m"(vmcs_physical)
                 : "memory", "cc");
    return vmx_result(carry, zero);
}

// Reads a field of the current VMCS (0 if the CPU refuses: the field list is fixed, so a refusal
// is a bug the VM-instruction error would show).
[[nodiscard]] inline uint64_t vmread(VmcsField field) {
    uint64_t value = 0;
    asm volatile("vmread %[field], %[value]"
                 : [value] "=rm"(value)
                 : [field] "r"(static_cast<uint64_t>(encoding(field)))
                 : "cc");
    return value;
}

[[nodiscard]] inline VmxResult vmwrite(VmcsField field, uint64_t value) {
    bool carry, zero;
    asm volatile("vmwrite %[value], %[field]"
                 : "=@ccc"(carry), "=@ccz"(zero)
                 : [field] "r"(static_cast<uint64_t>(encoding(field))), [value] "rm"(value)
                 : "cc");
    return vmx_result(carry, zero);
}

// INVEPT / INVVPID types (SDM vol. 3, 31.3).
inline constexpr uint64_t kInveptSingleContext = 1;
inline constexpr uint64_t kInveptAllContexts = 2;
inline constexpr uint64_t kInvvpidSingleContext = 1;
inline constexpr uint64_t kInvvpidAllContexts = 2;

[[nodiscard]] inline VmxResult invept(uint64_t type, uint64_t ept_pointer) {
    struct alignas(16) {
        uint64_t eptp;
        uint64_t reserved;
    } descriptor{ept_pointer, 0};
    bool carry, zero;
    asm volatile("invept %[descriptor], %[type]"
                 : "=@ccc"(carry), "=@ccz"(zero)
                 : [descriptor] "m"(descriptor), [type] "r"(type)
                 : "memory", "cc");
    return vmx_result(carry, zero);
}

[[nodiscard]] inline VmxResult invvpid(uint64_t type, uint16_t vpid) {
    struct alignas(16) {
        uint64_t vpid;
        uint64_t linear_address;
    } descriptor{vpid, 0};
    bool carry, zero;
    asm volatile("invvpid %[descriptor], %[type]"
                 : "=@ccc"(carry), "=@ccz"(zero)
                 : [descriptor] "m"(descriptor), [type] "r"(type)
                 : "memory", "cc");
    return vmx_result(carry, zero);
}

inline uint64_t read_dr6() {
    uint64_t value;
    asm volatile("mov %%dr6, %0" : "=r"(value));
    return value;
}
inline void write_dr6(uint64_t value) {
    asm volatile("mov %0, %%dr6" : : "r"(value));
}

} // namespace halcyon::vmx::hw
