// HvCallHalcyonManagement (0x7F00, docs/management-partition.md): the parameter blocks of the
// management partition's one call into the core, and the checks on its buffers. Pure code.
//
//   input (32 bytes)   0 u64 request_gpa, 8 u32 request_length, 12 u32 reserved (0),
//                      16 u64 response_gpa, 24 u32 response_capacity, 28 u32 reserved (0)
//   output (8 bytes)   0 u32 response_length, 4 u32 reserved (0)
#pragma once

#include "vmm/root/abi.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vmm::root {

namespace size {
inline constexpr uint16_t kManagementInput = 32;
inline constexpr uint16_t kManagementOutput = 8;
} // namespace size

// The largest request or response (mgmt/wire's kManagementMessageMax; the core checks they agree).
inline constexpr uint32_t kManagementMessageMax = 128 * 1024;

struct ManagementInput {
    uint64_t request_gpa = 0;
    uint32_t request_length = 0;
    uint64_t response_gpa = 0;
    uint32_t response_capacity = 0;
};

// Decodes the input block: invalid_parameter when a reserved word is not zero.
[[nodiscard]] Status decode_management_input(std::span<const uint8_t> block, ManagementInput& out);
// The buffers' own rules: a request of 1..kManagementMessageMax bytes, a response capacity of
// 1..kManagementMessageMax, neither wrapping around the address space, the two not overlapping
// (invalid_parameter otherwise). Whether they are the caller's RAM is the dispatcher's check.
[[nodiscard]] Status check_management_buffers(const ManagementInput& input);
void encode_management_output(uint32_t response_length, std::span<uint8_t> out);

} // namespace halcyon::vmm::root
