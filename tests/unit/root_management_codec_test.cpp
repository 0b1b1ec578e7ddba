// HvCallHalcyonManagement's parameter blocks and buffer rules (vmm/root/management_codec.hpp).
#include "vmm/root/management_codec.hpp"

#include <cstring>
#include <gtest/gtest.h>

namespace halcyon::vmm::root {
namespace {

struct Block {
    uint8_t bytes[32] = {};
    void u64(size_t at, uint64_t v) { std::memcpy(bytes + at, &v, 8); }
    void u32(size_t at, uint32_t v) { std::memcpy(bytes + at, &v, 4); }
};

Block valid_block() {
    Block b;
    b.u64(0, 0x1000'0000);
    b.u32(8, 100);
    b.u64(16, 0x1002'0000);
    b.u32(24, 0x20000);
    return b;
}

TEST(RootManagementCodec, DecodesTheFields) {
    const Block b = valid_block();
    ManagementInput in;
    ASSERT_EQ(decode_management_input(b.bytes, in), Status::success);
    EXPECT_EQ(in.request_gpa, 0x1000'0000u);
    EXPECT_EQ(in.request_length, 100u);
    EXPECT_EQ(in.response_gpa, 0x1002'0000u);
    EXPECT_EQ(in.response_capacity, 0x20000u);
    EXPECT_EQ(check_management_buffers(in), Status::success);
}

TEST(RootManagementCodec, ReservedWordsMustBeZero) {
    for (size_t at : {12u, 28u}) {
        Block b = valid_block();
        b.u32(at, 1);
        ManagementInput in;
        EXPECT_EQ(decode_management_input(b.bytes, in), Status::invalid_parameter) << at;
    }
    ManagementInput in;
    EXPECT_EQ(decode_management_input(std::span<const uint8_t>(valid_block().bytes, 31), in),
              Status::invalid_parameter);
}

TEST(RootManagementCodec, BufferRules) {
    ManagementInput in{0x1000, 64, 0x2000, 4096};
    EXPECT_EQ(check_management_buffers(in), Status::success);
    ManagementInput empty = in;
    empty.request_length = 0;
    EXPECT_EQ(check_management_buffers(empty), Status::invalid_parameter);
    ManagementInput no_room = in;
    no_room.response_capacity = 0;
    EXPECT_EQ(check_management_buffers(no_room), Status::invalid_parameter);
    ManagementInput large = in;
    large.request_length = kManagementMessageMax + 1;
    EXPECT_EQ(check_management_buffers(large), Status::invalid_parameter);
    large = in;
    large.response_gpa = 0x10'0000;
    large.response_capacity = kManagementMessageMax;
    EXPECT_EQ(check_management_buffers(large), Status::success);
    large.response_capacity = kManagementMessageMax + 1;
    EXPECT_EQ(check_management_buffers(large), Status::invalid_parameter);
    ManagementInput overlap{0x1000, 0x1001, 0x2000, 16};
    EXPECT_EQ(check_management_buffers(overlap), Status::invalid_parameter);
    ManagementInput touching{0x1000, 0x1000, 0x2000, 16};
    EXPECT_EQ(check_management_buffers(touching), Status::success);
    ManagementInput inside{0x2000, 8, 0x1000, 0x4000};
    EXPECT_EQ(check_management_buffers(inside), Status::invalid_parameter);
    ManagementInput wraps{~0ull - 10, 64, 0x2000, 16};
    EXPECT_EQ(check_management_buffers(wraps), Status::invalid_parameter);
}

TEST(RootManagementCodec, EncodesTheOutput) {
    uint8_t out[8];
    std::memset(out, 0xAA, sizeof(out));
    encode_management_output(0x1234, out);
    const uint8_t expected[8] = {0x34, 0x12, 0, 0, 0, 0, 0, 0};
    EXPECT_EQ(std::memcmp(out, expected, 8), 0);
}

} // namespace
} // namespace halcyon::vmm::root
