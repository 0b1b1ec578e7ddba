// Hypercalls (vmm/hyperv/hypercall.hpp, HypervPartition::hypercall): the page's code decoded by
// Zydis, caller modes (#UD cases), both register conventions, the input value's fields and
// the TLFS's common checks, on synthetic descriptors. HvPostMessage and HvSignalEvent
// themselves: hyperv_post_message_test.cpp.
#include "hyperv_test_support.hpp"
#include "vmm/hyperv/hypercall.hpp"
#include "vmm/hyperv/hypercall_page.hpp"

#include <Zydis/Zydis.h>
#include <gtest/gtest.h>
#include <memory>
#include <vector>

namespace halcyon::vmm::hyperv {
namespace {

std::vector<ZydisMnemonic> decode(std::span<const uint8_t> code, ZydisMachineMode mode,
                                  ZydisStackWidth width) {
    ZydisDecoder decoder;
    EXPECT_TRUE(ZYAN_SUCCESS(ZydisDecoderInit(&decoder, mode, width)));
    std::vector<ZydisMnemonic> mnemonics;
    size_t offset = 0;
    while (offset < code.size()) {
        ZydisDecodedInstruction instruction;
        ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT];
        if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, code.data() + offset,
                                                 code.size() - offset, &instruction, operands)))
            break;
        mnemonics.push_back(instruction.mnemonic);
        offset += instruction.length;
    }
    EXPECT_EQ(offset, code.size()) << "the code decodes completely";
    return mnemonics;
}

TEST(HypervHypercallPage, AmdCodeIsEndbrVmmcallRet) {
    const auto code = hypercall_page_code(CpuVendor::amd);
    const std::vector<ZydisMnemonic> expected{ZYDIS_MNEMONIC_ENDBR64, ZYDIS_MNEMONIC_VMMCALL,
                                              ZYDIS_MNEMONIC_RET};
    EXPECT_EQ(decode(code, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64), expected);
    EXPECT_EQ(code[kHypercallInstructionOffset], 0x0F);
    EXPECT_EQ(code.size(), kHypercallInstructionOffset + kHypercallInstructionLength + 1);
}

TEST(HypervHypercallPage, IntelCodeIsEndbrVmcallRet) {
    const std::vector<ZydisMnemonic> expected{ZYDIS_MNEMONIC_ENDBR64, ZYDIS_MNEMONIC_VMCALL,
                                              ZYDIS_MNEMONIC_RET};
    EXPECT_EQ(decode(hypercall_page_code(CpuVendor::intel), ZYDIS_MACHINE_MODE_LONG_64,
                     ZYDIS_STACK_WIDTH_64),
              expected);
}

TEST(HypervHypercallPage, SameCodeServes32BitCallers) {
    const std::vector<ZydisMnemonic> expected{ZYDIS_MNEMONIC_ENDBR64, ZYDIS_MNEMONIC_VMMCALL,
                                              ZYDIS_MNEMONIC_RET};
    EXPECT_EQ(decode(hypercall_page_code(CpuVendor::amd), ZYDIS_MACHINE_MODE_LONG_COMPAT_32,
                     ZYDIS_STACK_WIDTH_32),
              expected);
}

TEST(HypervHypercallControl, DecodesEveryField) {
    const uint64_t value = 0x005D | (uint64_t{1} << 16) | (uint64_t{0x3FF} << 17) |
                           (uint64_t{0xABC} << 32) | (uint64_t{0x123} << 48);
    const HypercallControl control = decode_control(value);
    EXPECT_EQ(control.code, 0x5D);
    EXPECT_TRUE(control.fast);
    EXPECT_EQ(control.variable_header_qwords, 0x3FF);
    EXPECT_EQ(control.rep_count, 0xABC);
    EXPECT_EQ(control.rep_start, 0x123);
    EXPECT_FALSE(control.reserved_bits_set);
}

TEST(HypervHypercallControl, EachReservedBitIsNoticed) {
    for (unsigned bit = 0; bit < 64; ++bit) {
        const bool reserved = (bit >= 27 && bit <= 31) || (bit >= 44 && bit <= 47) || bit >= 60;
        EXPECT_EQ(decode_control(uint64_t{1} << bit).reserved_bits_set, reserved) << bit;
    }
}

TEST(HypervHypercallResult, StatusAndRepsCompleted) {
    EXPECT_EQ(hypercall_result(HvStatus::success), 0u);
    EXPECT_EQ(hypercall_result(HvStatus::invalid_hypercall_code), 2u);
    EXPECT_EQ(hypercall_result(HvStatus::invalid_alignment, 0xFFF), 4u | (uint64_t{0xFFF} << 32));
}

TEST(HypervHypercallRegisters, SixtyFourBitConvention) {
    GeneralRegisters regs{};
    regs.rcx = 0x1111'2222'3333'4444;
    regs.rdx = 0x5555'6666'7777'8888;
    regs.r8 = 0x9999'AAAA'BBBB'CCCC;
    const HypercallInput input = read_hypercall_input(regs, true);
    EXPECT_EQ(input.control, regs.rcx);
    EXPECT_EQ(input.input, regs.rdx);
    EXPECT_EQ(input.output, regs.r8);
    store_hypercall_result(regs, true, 0x0000'0ABC'0000'0003);
    EXPECT_EQ(regs.rax, 0x0000'0ABC'0000'0003u);
    EXPECT_EQ(regs.rdx, 0x5555'6666'7777'8888u) << "input registers stay";
}

TEST(HypervHypercallRegisters, ThirtyTwoBitConvention) {
    GeneralRegisters regs{};
    regs.rdx = 0xFFFF'FFFF'0000'0001; // upper halves are not part of the 32-bit registers
    regs.rax = 0xFFFF'FFFF'0000'0002;
    regs.rbx = 0x3;
    regs.rcx = 0x4;
    regs.rdi = 0x5;
    regs.rsi = 0x6;
    const HypercallInput input = read_hypercall_input(regs, false);
    EXPECT_EQ(input.control, 0x1'0000'0002u);
    EXPECT_EQ(input.input, 0x3'0000'0004u);
    EXPECT_EQ(input.output, 0x5'0000'0006u);
    store_hypercall_result(regs, false, 0x0000'0ABC'0000'0003);
    EXPECT_EQ(regs.rax, 0x3u);
    EXPECT_EQ(regs.rdx, 0xABCu);
}

TEST(HypervHypercallCaller, FromSystemRegisters) {
    SystemRegisters system{};
    system.cr0 = 0x8000'0011;
    system.efer = 0x500;          // LME | LMA
    system.cs.attributes = 0xA9B; // 64-bit code segment: L set
    system.cpl = 0;
    HypercallCaller caller = hypercall_caller(system);
    EXPECT_TRUE(caller.protected_mode);
    EXPECT_TRUE(caller.long_mode);
    EXPECT_EQ(caller.cpl, 0);
    system.cs.attributes = 0xC9B; // compatibility mode: L clear, D set
    system.cpl = 3;
    caller = hypercall_caller(system);
    EXPECT_FALSE(caller.long_mode);
    EXPECT_EQ(caller.cpl, 3);
    system.cr0 = 0x10;
    system.efer = 0;
    EXPECT_FALSE(hypercall_caller(system).protected_mode);
}

// A partition whose guest enabled the hypercall page, as Linux does.
class HypervDispatch : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(hv.write_msr(0, msr::kGuestOsId, test::kLinuxGuestOsId, ram));
        ASSERT_TRUE(hv.write_msr(0, msr::kHypercall, 0x2001, ram));
    }
    HypercallResult call(uint64_t control, HypercallCaller caller = {}) {
        return hv.dispatch(HypercallInput{control, 0x1000, 0x1800}, caller, ram);
    }

    HypervPartition hv{test::test_info()};
    test::FakeGuestRam ram{test::kTestRamSize};
};

TEST_F(HypervDispatch, UnknownCodesAreInvalidHypercallCode) {
    // Only post message and signal event are implemented: the TLB flush and IPI calls, the
    // extended query, the neighbours of 0x5C/0x5D - all unknown.
    for (uint64_t code : {0x0000ull, 0x0002ull, 0x0008ull, 0x000Bull, 0x0046ull, 0x005Bull,
                          0x005Eull, 0x8001ull, 0xFFFFull}) {
        const HypercallResult result = call(code);
        EXPECT_EQ(result.outcome, HypercallOutcome::completed);
        EXPECT_EQ(result.value, 2u) << std::hex << code;
    }
    EXPECT_EQ(call(0x005E | control::kFast).value, 2u);
}

TEST_F(HypervDispatch, ReservedBitsAreInvalidHypercallInput) {
    for (unsigned bit : {27u, 31u, 44u, 47u, 60u, 63u}) {
        const HypercallResult result = call(0x005C | (uint64_t{1} << bit));
        EXPECT_EQ(result.outcome, HypercallOutcome::completed);
        EXPECT_EQ(result.value, 3u) << bit;
    }
}

TEST_F(HypervDispatch, OnlyCplZeroProtectedModeMayCall) {
    EXPECT_EQ(call(0x5C, {.protected_mode = true, .long_mode = true, .cpl = 3}).outcome,
              HypercallOutcome::undefined_opcode);
    EXPECT_EQ(call(0x5C, {.protected_mode = true, .long_mode = false, .cpl = 1}).outcome,
              HypercallOutcome::undefined_opcode);
    EXPECT_EQ(call(0x5C, {.protected_mode = false, .long_mode = false, .cpl = 0}).outcome,
              HypercallOutcome::undefined_opcode)
        << "real mode";
    EXPECT_EQ(call(0x5C, {.protected_mode = true, .long_mode = false, .cpl = 0}).outcome,
              HypercallOutcome::completed)
        << "32-bit protected mode is allowed";
}

TEST_F(HypervDispatch, WithoutTheHypercallPageVmmcallIsUndefined) {
    ASSERT_TRUE(hv.write_msr(0, msr::kHypercall, 0x2000, ram));
    EXPECT_EQ(call(0x5C).outcome, HypercallOutcome::undefined_opcode);
    auto fresh = std::make_unique<HypervPartition>(test::test_info());
    EXPECT_EQ(fresh->dispatch(HypercallInput{}, HypercallCaller{}, ram).outcome,
              HypercallOutcome::undefined_opcode);
}

TEST_F(HypervDispatch, RegisterLevelEntryUsesTheCallersConvention) {
    SystemRegisters system{};
    system.cr0 = 0x8000'0011;
    system.efer = 0x500;
    system.cs.attributes = 0xA9B;
    GeneralRegisters regs{};
    regs.rcx = 0x0000'0000'0800'005C; // reserved bit 27
    regs.rax = 0xDEAD;
    EXPECT_EQ(hv.hypercall(regs, system, ram).outcome, HypercallOutcome::completed);
    EXPECT_EQ(regs.rax, 3u);

    system.cs.attributes = 0xC9B; // 32-bit caller: control in EDX:EAX
    regs = GeneralRegisters{};
    regs.rdx = 0;
    regs.rax = 0x5E;
    regs.rcx = 0x0800'0000; // would be a reserved bit for a 64-bit caller; here input GPA
    EXPECT_EQ(hv.hypercall(regs, system, ram).outcome, HypercallOutcome::completed);
    EXPECT_EQ(regs.rax, 2u);
    EXPECT_EQ(regs.rdx, 0u);

    system.cpl = 3;
    regs.rax = 0x5C;
    EXPECT_EQ(hv.hypercall(regs, system, ram).outcome, HypercallOutcome::undefined_opcode);
    EXPECT_EQ(regs.rax, 0x5Cu) << "registers untouched on #UD";
}

// --- the common checks, on descriptors made up for the test ---

constexpr HypercallDescriptor kSimple{.code = 0x10, .input_bytes = 16, .output_bytes = 8};
constexpr HypercallDescriptor kRep{.code = 0x11,
                                   .rep = true,
                                   .input_bytes = 16,
                                   .input_element_bytes = 8,
                                   .output_element_bytes = 8};
constexpr HypercallDescriptor kFastOnly{
    .code = 0x12, .memory_form = false, .fast_form = true, .input_bytes = 16};
constexpr HypercallDescriptor kVariable{.code = 0x13, .variable_header = true, .input_bytes = 16};
constexpr HypercallDescriptor kTable[] = {kSimple, kRep, kFastOnly, kVariable};

uint64_t rep_control(uint16_t code, uint64_t count, uint64_t start) {
    return code | (count << control::kRepCountShift) | (start << control::kRepStartShift);
}

HvStatus validate(uint64_t control, uint64_t input = 0x1000, uint64_t output = 0x2000) {
    const ValidatedHypercall v =
        validate_hypercall(HypercallInput{control, input, output}, kTable, test::kTestRamSize);
    EXPECT_EQ(v.descriptor != nullptr, v.status == HvStatus::success);
    return v.status;
}

TEST(HypervHypercallChecks, KnownCallsPass) {
    EXPECT_EQ(validate(0x10), HvStatus::success);
    EXPECT_EQ(validate(rep_control(0x11, 5, 0)), HvStatus::success);
    EXPECT_EQ(validate(rep_control(0x11, 5, 4)), HvStatus::success);
    EXPECT_EQ(validate(0x12 | control::kFast, 0xFFFF'FFFF'FFFF'FFFF, 3), HvStatus::success)
        << "fast parameters are values, not addresses";
    EXPECT_EQ(validate(0x13 | (uint64_t{2} << control::kVariableHeaderShift)), HvStatus::success);
    EXPECT_EQ(validate(0x14), HvStatus::invalid_hypercall_code);
    EXPECT_EQ(validate(0x10 | (uint64_t{1} << 30)), HvStatus::invalid_hypercall_input);
}

TEST(HypervHypercallChecks, RepCountAndStart) {
    EXPECT_EQ(validate(rep_control(0x10, 1, 0)), HvStatus::invalid_hypercall_input)
        << "rep count on a simple call";
    EXPECT_EQ(validate(rep_control(0x10, 0, 1)), HvStatus::invalid_hypercall_input)
        << "rep start on a simple call";
    EXPECT_EQ(validate(rep_control(0x11, 0, 0)), HvStatus::invalid_hypercall_input)
        << "zero rep count on a rep call";
    EXPECT_EQ(validate(rep_control(0x11, 5, 5)), HvStatus::invalid_hypercall_input)
        << "rep start not below rep count";
    EXPECT_EQ(validate(rep_control(0x11, 5, 6)), HvStatus::invalid_hypercall_input);
}

TEST(HypervHypercallChecks, VariableHeaderOnlyWhereDocumented) {
    EXPECT_EQ(validate(0x10 | (uint64_t{1} << control::kVariableHeaderShift)),
              HvStatus::invalid_hypercall_input);
}

TEST(HypervHypercallChecks, CallingForms) {
    EXPECT_EQ(validate(0x10 | control::kFast), HvStatus::invalid_hypercall_input) << "no fast form";
    EXPECT_EQ(validate(0x12), HvStatus::invalid_hypercall_input) << "no memory form";
}

TEST(HypervHypercallChecks, ParameterBlockPlacement) {
    EXPECT_EQ(validate(0x10, 0x1004), HvStatus::invalid_alignment) << "input not 8-aligned";
    EXPECT_EQ(validate(0x10, 0x1000, 0x2001), HvStatus::invalid_alignment)
        << "output not 8-aligned";
    EXPECT_EQ(validate(0x10, 0x1FF0), HvStatus::success) << "16 bytes end the page exactly";
    EXPECT_EQ(validate(0x10, 0x1FF8), HvStatus::invalid_alignment) << "input crosses a page";
    EXPECT_EQ(validate(0x10, 0x1000, 0x1FF8), HvStatus::success);
    EXPECT_EQ(validate(0x10, test::kTestRamSize), HvStatus::invalid_alignment)
        << "outside the guest-physical space";
    EXPECT_EQ(validate(0x10, test::kTestRamSize - 16), HvStatus::success);
    EXPECT_EQ(validate(0x10, 0xFFFF'FFFF'FFFF'FFF0), HvStatus::invalid_alignment)
        << "no wrap-around";
    // Rep lists count toward the size: 16 + 5 * 8 input bytes, 5 * 8 output bytes.
    EXPECT_EQ(validate(rep_control(0x11, 5, 0), 0x1FC8), HvStatus::success);
    EXPECT_EQ(validate(rep_control(0x11, 5, 0), 0x1FD0), HvStatus::invalid_alignment);
    EXPECT_EQ(validate(rep_control(0x11, 5, 0), 0x1000, 0x2FD8), HvStatus::success);
    EXPECT_EQ(validate(rep_control(0x11, 5, 0), 0x1000, 0x2FE0), HvStatus::invalid_alignment);
    // The variable header too: 16 + 2 * 8 bytes.
    const uint64_t variable = 0x13 | (uint64_t{2} << control::kVariableHeaderShift);
    EXPECT_EQ(validate(variable, 0x1FE0), HvStatus::success);
    EXPECT_EQ(validate(variable, 0x1FE8), HvStatus::invalid_alignment);
    // A call without an output block ignores the output pointer.
    EXPECT_EQ(validate(0x13, 0x1000, 0x7), HvStatus::success);
}

} // namespace
} // namespace halcyon::vmm::hyperv
