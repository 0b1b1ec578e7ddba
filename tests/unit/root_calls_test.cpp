// The privileged call table (vmm/root/calls.hpp): which codes are privileged, and the common
// TLFS checks each implemented call gets before its own (rep or simple, calling form, the
// placement of its parameter blocks).
#include "vmm/root/abi.hpp"
#include "vmm/root/calls.hpp"

#include <gtest/gtest.h>

namespace halcyon::vmm::root {
namespace {

constexpr uint64_t kSpace = 16ull << 20; // the root's guest-physical space in these tests
constexpr uint64_t kInput = 0x304000;
constexpr uint64_t kOutput = 0x305000;

uint64_t reps(uint64_t count, uint64_t start = 0) {
    return (count << 32) | (start << 48);
}

Status check(uint64_t control, uint64_t input = kInput, uint64_t output = kOutput) {
    return validate_call(hyperv::HypercallInput{control, input, output}, kSpace).status;
}

TEST(RootCalls, PrivilegedCodesAreExactlyTheRootOnes) {
    for (uint16_t code : {call::kCreatePartition,
                          call::kInitializePartition,
                          call::kFinalizePartition,
                          call::kDeletePartition,
                          call::kGetPartitionProperty,
                          call::kSetPartitionProperty,
                          call::kGetPartitionId,
                          call::kDepositMemory,
                          call::kWithdrawMemory,
                          call::kMapGpaPages,
                          call::kUnmapGpaPages,
                          call::kInstallIntercept,
                          call::kCreateVp,
                          call::kDeleteVp,
                          call::kGetVpRegisters,
                          call::kSetVpRegisters,
                          call::kAssertVirtualInterrupt,
                          call::kSignalEventDirect,
                          call::kPostMessageDirect,
                          call::kDispatchVp,
                          call::kMapVpStatePage,
                          call::kUnmapVpStatePage,
                          call::kGetVpState,
                          call::kSetVpState})
        EXPECT_TRUE(is_privileged_call(code)) << std::hex << code;
    // Every partition's own calls stay out of it: HvPostMessage, HvSignalEvent, the flushes,
    // IPIs and unknown codes go the ordinary way.
    for (uint16_t code : {0x0002, 0x0003, 0x0008, 0x000B, 0x005C, 0x005D, 0x0000, 0x7FFF, 0xFFFF})
        EXPECT_FALSE(is_privileged_call(code)) << std::hex << code;
    EXPECT_STREQ(call_name(call::kDispatchVp), "HvDispatchVp");
    EXPECT_STREQ(call_name(0x005C), "unknown");
}

TEST(RootCalls, EveryImplementedCallIsPrivileged) {
    EXPECT_EQ(implemented_calls().size(), 16u); // the 15 root calls and the vendor call
    for (const auto& descriptor : implemented_calls())
        EXPECT_TRUE(is_privileged_call(descriptor.code)) << std::hex << descriptor.code;
}

TEST(RootCalls, UnimplementedPrivilegedCodesAreInvalidForTheRoot) {
    EXPECT_EQ(check(call::kFinalizePartition), Status::invalid_hypercall_code);
    EXPECT_EQ(check(call::kDeleteVp), Status::invalid_hypercall_code);
    EXPECT_EQ(check(call::kMapVpStatePage), Status::invalid_hypercall_code);
}

TEST(RootCalls, SimpleCallsTakeNoRepCount) {
    EXPECT_EQ(check(call::kCreatePartition), Status::success);
    EXPECT_EQ(check(call::kCreatePartition | reps(1)), Status::invalid_hypercall_input);
    EXPECT_EQ(check(call::kDispatchVp | reps(0, 1)), Status::invalid_hypercall_input);
}

TEST(RootCalls, RepCallsNeedOneAndStartBelowIt) {
    EXPECT_EQ(check(call::kDepositMemory), Status::invalid_hypercall_input);
    EXPECT_EQ(check(call::kDepositMemory | reps(3)), Status::success);
    EXPECT_EQ(check(call::kDepositMemory | reps(3, 2)), Status::success);
    EXPECT_EQ(check(call::kDepositMemory | reps(3, 3)), Status::invalid_hypercall_input);
    EXPECT_EQ(check(call::kUnmapGpaPages | reps(4095), kInput, 0), Status::success);
}

TEST(RootCalls, FastFormOnlyForThePartitionIdCalls) {
    constexpr uint64_t kFast = 1ull << 16;
    EXPECT_EQ(check(call::kInitializePartition | kFast, 7, 0), Status::success);
    EXPECT_EQ(check(call::kDeletePartition | kFast, 7, 0), Status::success);
    EXPECT_EQ(check(call::kCreatePartition | kFast, 7, 0), Status::invalid_hypercall_input);
    EXPECT_EQ(check(call::kDispatchVp | kFast, 7, 0), Status::invalid_hypercall_input);
}

TEST(RootCalls, ReservedControlBitsAndVariableHeaders) {
    EXPECT_EQ(check(call::kCreatePartition | (1ull << 27)), Status::invalid_hypercall_input);
    EXPECT_EQ(check(call::kCreatePartition | (1ull << 17)), Status::invalid_hypercall_input);
}

TEST(RootCalls, ParameterBlocksMustBePlacedWell) {
    EXPECT_EQ(check(call::kCreatePartition, kInput + 4), Status::invalid_alignment);
    EXPECT_EQ(check(call::kCreatePartition, kInput + 4096 - 48), Status::invalid_alignment);
    EXPECT_EQ(check(call::kCreatePartition, kInput, kOutput + 4), Status::invalid_alignment);
    EXPECT_EQ(check(call::kCreatePartition, kSpace), Status::invalid_alignment);
    EXPECT_EQ(check(call::kCreatePartition, 0xFFFF'FFFF'FFFF'F000ull), Status::invalid_alignment);
    // 8-byte header + 511 page numbers fill a page exactly; one more crosses it.
    EXPECT_EQ(check(call::kDepositMemory | reps(511)), Status::success);
    EXPECT_EQ(check(call::kDepositMemory | reps(512)), Status::invalid_alignment);
    // HvGetVpRegisters: 16-byte values out, 256 fill the output page.
    EXPECT_EQ(check(call::kGetVpRegisters | reps(256)), Status::success);
    EXPECT_EQ(check(call::kGetVpRegisters | reps(257)), Status::invalid_alignment);
    // HvWithdrawMemory: 512 page numbers out at most.
    EXPECT_EQ(check(call::kWithdrawMemory | reps(512)), Status::success);
    EXPECT_EQ(check(call::kWithdrawMemory | reps(513)), Status::invalid_alignment);
}

TEST(RootCalls, ResultValueCarriesStatusAndReps) {
    EXPECT_EQ(result_value({Status::success, 0}), 0u);
    EXPECT_EQ(result_value({Status::access_denied, 0}), 6u);
    EXPECT_EQ(result_value({Status::invalid_parameter, 3}), (3ull << 32) | 5u);
    EXPECT_EQ(result_value({Status::no_resources, 0xFFF}), (0xFFFull << 32) | 0x1Du);
}

TEST(RootCalls, StatusNames) {
    EXPECT_STREQ(status_name(Status::access_denied), "ACCESS_DENIED");
    EXPECT_STREQ(status_name(Status::invalid_register_value), "INVALID_REGISTER_VALUE");
    EXPECT_STREQ(status_name(static_cast<Status>(0x1234)), "unknown");
}

// HvCallHalcyonManagement (0x7F00): the management partition's vendor call.
TEST(RootCalls, ManagementCallIsPrivilegedAndSimple) {
    EXPECT_TRUE(is_privileged_call(call::kHalcyonManagement));
    EXPECT_STREQ(call_name(call::kHalcyonManagement), "HvCallHalcyonManagement");
    EXPECT_EQ(check(call::kHalcyonManagement), Status::success);
    EXPECT_EQ(check(call::kHalcyonManagement | reps(1)), Status::invalid_hypercall_input);
}

} // namespace
} // namespace halcyon::vmm::root
