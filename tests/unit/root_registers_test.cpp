// HvGetVpRegisters / HvSetVpRegisters on a child's vCPU state (vmm/root/registers.hpp): TLFS
// names to the right fields, and the values a hostile root must not get into the hardware.
#include "vmm/root/abi.hpp"
#include "vmm/root/registers.hpp"

#include <gtest/gtest.h>

namespace halcyon::vmm::root {
namespace {

RegisterValue v64(uint64_t value) {
    return RegisterValue{value, 0};
}

TEST(RootRegisters, GeneralRegistersInTlfsOrder) {
    VpRegisterState state;
    for (uint32_t i = 0; i < 16; ++i)
        ASSERT_EQ(write_register(reg::kRax + i, v64(0x100 + i), state), Status::success);
    const GeneralRegisters& g = state.general;
    EXPECT_EQ(g.rax, 0x100u);
    EXPECT_EQ(g.rcx, 0x101u);
    EXPECT_EQ(g.rdx, 0x102u);
    EXPECT_EQ(g.rbx, 0x103u);
    EXPECT_EQ(g.rsp, 0x104u);
    EXPECT_EQ(g.rbp, 0x105u);
    EXPECT_EQ(g.rsi, 0x106u);
    EXPECT_EQ(g.rdi, 0x107u);
    EXPECT_EQ(g.r8, 0x108u);
    EXPECT_EQ(g.r15, 0x10Fu);
    for (uint32_t i = 0; i < 16; ++i) {
        RegisterValue value;
        ASSERT_EQ(read_register(reg::kRax + i, state, value), Status::success);
        EXPECT_EQ(value.low, 0x100u + i);
        EXPECT_EQ(value.high, 0u);
    }
}

TEST(RootRegisters, RipRflagsAndControlRegisters) {
    VpRegisterState state;
    EXPECT_EQ(write_register(reg::kRip, v64(0x9000), state), Status::success);
    EXPECT_EQ(state.general.rip, 0x9000u);
    EXPECT_EQ(write_register(reg::kRflags, v64(0x246), state), Status::success);
    EXPECT_EQ(write_register(reg::kRflags, v64(0x244), state), Status::invalid_register_value);
    EXPECT_EQ(write_register(reg::kRflags, v64(0x202 | (1u << 15)), state),
              Status::invalid_register_value);
    EXPECT_EQ(write_register(reg::kRflags, v64(0x2 | (1ull << 22)), state),
              Status::invalid_register_value);
    EXPECT_EQ(state.general.rflags, 0x246u);

    EXPECT_EQ(write_register(reg::kCr0, v64(0x8001'0033), state), Status::success);
    EXPECT_EQ(write_register(reg::kCr0, v64(0x8000'0000), state), Status::invalid_register_value);
    EXPECT_EQ(write_register(reg::kCr0, v64(0x2000'0001), state), Status::invalid_register_value);
    EXPECT_EQ(write_register(reg::kCr0, v64(0x6000'0001), state), Status::success); // CD+NW
    EXPECT_EQ(write_register(reg::kCr0, v64(1ull << 32), state), Status::invalid_register_value);
    EXPECT_EQ(write_register(reg::kCr3, v64(0x3000), state), Status::success);
    EXPECT_EQ(write_register(reg::kCr3, v64(1ull << 52), state), Status::invalid_register_value);
    EXPECT_EQ(write_register(reg::kCr4, v64(0x220), state), Status::success);
    EXPECT_EQ(write_register(reg::kCr4, v64(1u << 13), state), Status::invalid_register_value);
    EXPECT_EQ(write_register(reg::kCr4, v64(1u << 22), state), Status::invalid_register_value);
    EXPECT_EQ(write_register(reg::kCr2, v64(0xDEAD'BEEF'0000ull), state), Status::success);
    EXPECT_EQ(state.system.cr0, 0x6000'0001u);
    EXPECT_EQ(state.system.cr3, 0x3000u);
    EXPECT_EQ(state.system.cr4, 0x220u);
}

TEST(RootRegisters, EferAndPat) {
    VpRegisterState state;
    EXPECT_EQ(write_register(reg::kEfer, v64(0xD01), state), Status::success);
    EXPECT_EQ(write_register(reg::kEfer, v64(0xD00 | (1u << 12)), state),
              Status::invalid_register_value); // SVME: nested virtualization is not offered
    EXPECT_EQ(write_register(reg::kEfer, v64(1u << 14), state), Status::invalid_register_value);
    EXPECT_EQ(state.system.efer, 0xD01u);
    EXPECT_EQ(write_register(reg::kPat, v64(0x0007'0406'0007'0406ull), state), Status::success);
    EXPECT_EQ(write_register(reg::kPat, v64(0x0007'0406'0007'0402ull), state),
              Status::invalid_register_value);
    EXPECT_EQ(write_register(reg::kPat, v64(0x0807'0406'0007'0406ull), state),
              Status::invalid_register_value);
    EXPECT_EQ(state.system.pat, 0x0007'0406'0007'0406ull);
}

TEST(RootRegisters, SixtyFourBitRegistersRefuseHighBits) {
    VpRegisterState state;
    for (uint32_t name : {reg::kRax, reg::kRip, reg::kCr0, reg::kEfer, reg::kExplicitSuspend})
        EXPECT_EQ(write_register(name, RegisterValue{0, 1}, state), Status::invalid_register_value)
            << std::hex << name;
}

TEST(RootRegisters, SegmentsAndSsSetsTheCpl) {
    VpRegisterState state;
    // hv_x64_segment_register: base, limit, selector, TLFS attributes (64-bit code: 0xA09B).
    const RegisterValue code{0x1000, 0xFFFF'FFFFull | (0x08ull << 32) | (0xA09Bull << 48)};
    EXPECT_EQ(write_register(reg::kEs + 1, code, state), Status::success);
    EXPECT_EQ(state.system.cs.selector, 0x08);
    EXPECT_EQ(state.system.cs.attributes, 0xA9B);
    EXPECT_EQ(state.system.cs.base, 0x1000u);
    RegisterValue back;
    ASSERT_EQ(read_register(reg::kEs + 1, state, back), Status::success);
    EXPECT_EQ(back.low, code.low);
    EXPECT_EQ(back.high, code.high);

    const RegisterValue user_data{0, 0xFFFF'FFFFull | (0x23ull << 32) | (0xC0F3ull << 48)};
    EXPECT_EQ(write_register(reg::kEs + 2, user_data, state), Status::success);
    EXPECT_EQ(state.system.ss.selector, 0x23);
    EXPECT_EQ(state.system.cpl, 3);
    const RegisterValue reserved{0, (0x0100ull << 48)};
    EXPECT_EQ(write_register(reg::kTr, reserved, state), Status::invalid_register_value);
    EXPECT_EQ(write_register(reg::kTr, RegisterValue{0, 0x67 | (0x8Bull << 48)}, state),
              Status::success);
    EXPECT_EQ(state.system.tr.attributes, 0x8B);
    EXPECT_EQ(state.system.tr.limit, 0x67u);
}

TEST(RootRegisters, TableRegisters) {
    VpRegisterState state;
    EXPECT_EQ(write_register(reg::kGdtr, RegisterValue{23ull << 48, 0x1000}, state),
              Status::success);
    EXPECT_EQ(state.system.gdtr.limit, 23);
    EXPECT_EQ(state.system.gdtr.base, 0x1000u);
    EXPECT_EQ(write_register(reg::kIdtr, RegisterValue{(0xFFFull << 48) | 1, 0x2000}, state),
              Status::invalid_register_value); // padding
    EXPECT_EQ(write_register(reg::kIdtr, RegisterValue{0xFFFull << 48, 0x2000}, state),
              Status::success);
    RegisterValue value;
    ASSERT_EQ(read_register(reg::kIdtr, state, value), Status::success);
    EXPECT_EQ(value.low, 0xFFFull << 48);
    EXPECT_EQ(value.high, 0x2000u);
}

TEST(RootRegisters, ExplicitSuspend) {
    VpRegisterState state;
    EXPECT_EQ(write_register(reg::kExplicitSuspend, v64(1), state), Status::success);
    EXPECT_TRUE(state.explicit_suspend);
    EXPECT_EQ(write_register(reg::kExplicitSuspend, v64(2), state), Status::invalid_register_value);
    RegisterValue value;
    ASSERT_EQ(read_register(reg::kExplicitSuspend, state, value), Status::success);
    EXPECT_EQ(value.low, 1u);
    EXPECT_EQ(write_register(reg::kExplicitSuspend, v64(0), state), Status::success);
    EXPECT_FALSE(state.explicit_suspend);
}

TEST(RootRegisters, UnknownNamesAreInvalidParameters) {
    VpRegisterState state;
    RegisterValue value;
    for (uint32_t name : {0x1u, 0x0002'0012u, 0x0003'0000u, 0x0004'0004u, 0x0006'0008u,
                          0x0007'0002u, 0x0008'0000u, 0x0008'0003u, 0x0009'0001u, 0xFFFF'FFFFu}) {
        EXPECT_EQ(read_register(name, state, value), Status::invalid_parameter) << std::hex << name;
        EXPECT_EQ(write_register(name, v64(0), state), Status::invalid_parameter)
            << std::hex << name;
    }
}

} // namespace
} // namespace halcyon::vmm::root
