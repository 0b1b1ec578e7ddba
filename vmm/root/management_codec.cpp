#include "vmm/root/management_codec.hpp"

#include <string.h>

namespace halcyon::vmm::root {
namespace {

uint64_t load_u64(std::span<const uint8_t> bytes, size_t offset) {
    uint64_t value;
    memcpy(&value, bytes.data() + offset, sizeof(value));
    return value;
}

uint32_t load_u32(std::span<const uint8_t> bytes, size_t offset) {
    uint32_t value;
    memcpy(&value, bytes.data() + offset, sizeof(value));
    return value;
}

bool range_ok(uint64_t address, uint32_t length) {
    return length >= 1 && length <= kManagementMessageMax && address + length > address;
}

} // namespace

Status decode_management_input(std::span<const uint8_t> block, ManagementInput& out) {
    if (block.size() < size::kManagementInput)
        return Status::invalid_parameter;
    out.request_gpa = load_u64(block, 0);
    out.request_length = load_u32(block, 8);
    out.response_gpa = load_u64(block, 16);
    out.response_capacity = load_u32(block, 24);
    if (load_u32(block, 12) != 0 || load_u32(block, 28) != 0)
        return Status::invalid_parameter;
    return Status::success;
}

Status check_management_buffers(const ManagementInput& input) {
    if (!range_ok(input.request_gpa, input.request_length) ||
        !range_ok(input.response_gpa, input.response_capacity))
        return Status::invalid_parameter;
    const bool overlap = input.request_gpa < input.response_gpa + input.response_capacity &&
                         input.response_gpa < input.request_gpa + input.request_length;
    return overlap ? Status::invalid_parameter : Status::success;
}

void encode_management_output(uint32_t response_length, std::span<uint8_t> out) {
    if (out.size() < size::kManagementOutput)
        return;
    memcpy(out.data(), &response_length, sizeof(response_length));
    memset(out.data() + 4, 0, 4);
}

} // namespace halcyon::vmm::root
