// HvCallPostMessage (0x5C) and HvCallSignalEvent (0x5D), vmm/hyperv/synic_hypercalls.hpp, through
// HypervPartition::dispatch/hypercall as the partition runs them: every input check and status
// code, both calling forms of HvSignalEvent, both register conventions, and call_port() against
// a port that records what it gets.
#include "hyperv_test_support.hpp"
#include "vmm/hyperv/synic_hypercalls.hpp"
#include "vmm/hyperv/tlfs.hpp"

#include <gtest/gtest.h>
#include <memory>
#include <vector>

namespace halcyon::vmm::hyperv {
namespace {

constexpr uint64_t kInput = 0x3000; // page-aligned, like Linux's per-CPU input page

class RecordingPort final : public SynicPort {
public:
    PortStatus on_message(uint32_t vcpu, uint32_t type, std::span<const uint8_t> payload) override {
        last_vcpu = vcpu;
        last_type = type;
        last_payload.assign(payload.begin(), payload.end());
        ++messages;
        return answer;
    }
    PortStatus on_event(uint32_t vcpu, uint16_t flag) override {
        last_vcpu = vcpu;
        last_flag = flag;
        ++events;
        return answer;
    }
    PortStatus answer = PortStatus::success;
    uint32_t last_vcpu = ~0u;
    uint32_t last_type = 0;
    uint16_t last_flag = 0xFFFF;
    std::vector<uint8_t> last_payload;
    int messages = 0;
    int events = 0;
};

class SynicHypercalls : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(hv->write_msr(0, msr::kGuestOsId, test::kLinuxGuestOsId, ram));
        ASSERT_TRUE(hv->write_msr(0, msr::kHypercall, 0x2001, ram));
    }
    // An HvPostMessage input block at `at`.
    void put_message(uint64_t at, uint32_t connection, uint32_t type, uint32_t size,
                     uint32_t reserved = 0) {
        ram.store<uint32_t>(at, connection);
        ram.store<uint32_t>(at + 4, reserved);
        ram.store<uint32_t>(at + 8, type);
        ram.store<uint32_t>(at + 12, size);
        for (uint32_t i = 0; i < 240; ++i)
            ram.store<uint8_t>(at + 16 + i, static_cast<uint8_t>(0xA0 + i));
    }
    HypercallResult post(uint64_t input = kInput, uint64_t extra_control = 0) {
        return hv->dispatch(HypercallInput{call::kPostMessage | extra_control, input, 0}, {}, ram);
    }
    HypercallResult signal_fast(uint64_t parameter) {
        return hv->dispatch(HypercallInput{call::kSignalEvent | control::kFast, parameter, 0}, {},
                            ram);
    }
    HypercallResult signal_memory(uint64_t parameter, uint64_t at = kInput) {
        ram.store<uint64_t>(at, parameter);
        return hv->dispatch(HypercallInput{call::kSignalEvent, at, 0}, {}, ram);
    }
    static HvStatus status_of(const HypercallResult& result) {
        EXPECT_EQ(result.outcome, HypercallOutcome::completed);
        return static_cast<HvStatus>(result.value & 0xFFFF);
    }

    std::unique_ptr<HypervPartition> hv = std::make_unique<HypervPartition>(test::test_info());
    test::FakeGuestRam ram{test::kTestRamSize};
};

// --- HvPostMessage ---

TEST_F(SynicHypercalls, PostMessageBecomesAPortCall) {
    put_message(kInput, 1, 0x11, 24);
    const HypercallResult result = post();
    ASSERT_EQ(result.outcome, HypercallOutcome::port_call);
    EXPECT_EQ(result.port_call.kind, PortCall::Kind::message);
    EXPECT_EQ(result.port_call.connection_id, 1u);
    EXPECT_EQ(result.port_call.message_type, 0x11u);
    ASSERT_EQ(result.port_call.payload_size, 24u);
    for (uint32_t i = 0; i < 24; ++i)
        EXPECT_EQ(result.port_call.payload[i], 0xA0 + i);

    RecordingPort port;
    EXPECT_EQ(call_port(result.port_call, &port, 3), HvStatus::success);
    EXPECT_EQ(port.messages, 1);
    EXPECT_EQ(port.last_vcpu, 3u);
    EXPECT_EQ(port.last_type, 0x11u);
    ASSERT_EQ(port.last_payload.size(), 24u);
    EXPECT_EQ(port.last_payload[23], 0xA0 + 23);
}

TEST_F(SynicHypercalls, PostMessageLimits) {
    put_message(kInput, 0xFF'FFFF, 0x7FFF'FFFF, 240);
    HypercallResult result = post();
    ASSERT_EQ(result.outcome, HypercallOutcome::port_call) << "largest id, type and payload";
    EXPECT_EQ(result.port_call.payload_size, 240u);
    put_message(kInput, 1, 1, 0);
    result = post();
    ASSERT_EQ(result.outcome, HypercallOutcome::port_call) << "an empty payload is fine";
    EXPECT_TRUE(result.port_call.bytes().empty());
}

TEST_F(SynicHypercalls, PostMessageInvalidParameter) {
    put_message(kInput, 1, 0, 8);
    EXPECT_EQ(status_of(post()), HvStatus::invalid_parameter) << "type 0";
    put_message(kInput, 1, 0x8000'0000, 8);
    EXPECT_EQ(status_of(post()), HvStatus::invalid_parameter) << "hypervisor type bit";
    put_message(kInput, 1, kMessageTimerExpired, 8);
    EXPECT_EQ(status_of(post()), HvStatus::invalid_parameter) << "a hypervisor message type";
    put_message(kInput, 1, 1, 241);
    EXPECT_EQ(status_of(post()), HvStatus::invalid_parameter) << "payload above 240";
    put_message(kInput, 1, 1, 0xFFFF'FFFF);
    EXPECT_EQ(status_of(post()), HvStatus::invalid_parameter);
}

TEST_F(SynicHypercalls, PostMessageReservedFields) {
    put_message(kInput, 1, 1, 8, /*reserved=*/1);
    EXPECT_EQ(status_of(post()), HvStatus::invalid_hypercall_input) << "RsvdZ at offset 4";
    put_message(kInput, 0x0100'0001, 1, 8);
    EXPECT_EQ(status_of(post()), HvStatus::invalid_hypercall_input) << "connection id bits 31:24";
}

TEST_F(SynicHypercalls, PostMessageCommonChecks) {
    put_message(kInput, 1, 1, 8);
    EXPECT_EQ(status_of(post(kInput, control::kFast)), HvStatus::invalid_hypercall_input)
        << "no fast form (256-byte input)";
    EXPECT_EQ(status_of(post(kInput, uint64_t{1} << control::kRepCountShift)),
              HvStatus::invalid_hypercall_input)
        << "not a rep call";
    EXPECT_EQ(status_of(post(kInput, uint64_t{1} << control::kVariableHeaderShift)),
              HvStatus::invalid_hypercall_input);
    EXPECT_EQ(status_of(post(kInput + 4)), HvStatus::invalid_alignment) << "not 8-aligned";
    EXPECT_EQ(status_of(post(kInput + 0xF08)), HvStatus::invalid_alignment)
        << "256 bytes cross the page";
    EXPECT_EQ(status_of(post(test::kTestRamSize)), HvStatus::invalid_alignment)
        << "outside the guest-physical space";
    put_message(kInput + 0xF00, 1, 1, 8);
    EXPECT_EQ(post(kInput + 0xF00).outcome, HypercallOutcome::port_call) << "ends the page";
    ram.hole = kInput;
    EXPECT_EQ(status_of(post()), HvStatus::invalid_alignment) << "inside the space, not RAM";
}

TEST_F(SynicHypercalls, PostMessageThroughTheRegisters) {
    put_message(kInput, 4, 14, 16); // VMBus InitiateContact's connection and type
    SystemRegisters system{};
    system.cr0 = 0x8000'0011;
    system.efer = 0x500;
    system.cs.attributes = 0xA9B;
    GeneralRegisters regs{};
    regs.rcx = call::kPostMessage;
    regs.rdx = kInput;
    regs.r8 = 0;
    regs.rax = 0xDEAD;
    const HypercallResult result = hv->hypercall(regs, system, ram);
    ASSERT_EQ(result.outcome, HypercallOutcome::port_call);
    EXPECT_EQ(result.port_call.connection_id, 4u);
    EXPECT_EQ(regs.rax, 0xDEADu) << "the partition stores the port's status";
    store_hypercall_result(regs, true, hypercall_result(call_port(result.port_call, nullptr, 0)));
    EXPECT_EQ(regs.rax, 0x12u) << "HV_STATUS_INVALID_CONNECTION_ID";

    // 32-bit caller: control EDX:EAX, input EBX:ECX.
    system.cs.attributes = 0xC9B;
    regs = GeneralRegisters{};
    regs.rax = call::kPostMessage;
    regs.rcx = kInput;
    const HypercallResult result32 = hv->hypercall(regs, system, ram);
    ASSERT_EQ(result32.outcome, HypercallOutcome::port_call);
    EXPECT_EQ(result32.port_call.message_type, 14u);
}

// --- HvSignalEvent ---

TEST_F(SynicHypercalls, SignalEventFastAndMemoryForms) {
    const uint64_t parameter = 0x0000'0005'0000'0021; // connection 0x21, flag 5
    HypercallResult result = signal_fast(parameter);
    ASSERT_EQ(result.outcome, HypercallOutcome::port_call);
    EXPECT_EQ(result.port_call.kind, PortCall::Kind::event);
    EXPECT_EQ(result.port_call.connection_id, 0x21u);
    EXPECT_EQ(result.port_call.flag_number, 5u);
    result = signal_memory(parameter);
    ASSERT_EQ(result.outcome, HypercallOutcome::port_call);
    EXPECT_EQ(result.port_call.connection_id, 0x21u);
    EXPECT_EQ(result.port_call.flag_number, 5u);

    RecordingPort port;
    EXPECT_EQ(call_port(result.port_call, &port, 1), HvStatus::success);
    EXPECT_EQ(port.events, 1);
    EXPECT_EQ(port.last_flag, 5u);
    EXPECT_EQ(port.last_vcpu, 1u);
}

TEST_F(SynicHypercalls, SignalEventChecks) {
    EXPECT_EQ(status_of(signal_fast(uint64_t{1} << 48 | 1)), HvStatus::invalid_hypercall_input)
        << "RsvdZ bits 63:48";
    EXPECT_EQ(status_of(signal_fast(0x0100'0001)), HvStatus::invalid_hypercall_input)
        << "connection id bits 31:24";
    EXPECT_EQ(status_of(signal_fast(uint64_t{2048} << 32 | 1)), HvStatus::invalid_parameter)
        << "beyond a SINT's 2048 flags";
    EXPECT_EQ(signal_fast(uint64_t{2047} << 32 | 1).outcome, HypercallOutcome::port_call);
    EXPECT_EQ(status_of(signal_memory(uint64_t{1} << 63 | 1)), HvStatus::invalid_hypercall_input);
    EXPECT_EQ(status_of(hv->dispatch(HypercallInput{call::kSignalEvent, kInput + 4, 0}, {}, ram)),
              HvStatus::invalid_alignment);
    ram.hole = kInput;
    EXPECT_EQ(status_of(hv->dispatch(HypercallInput{call::kSignalEvent, kInput, 0}, {}, ram)),
              HvStatus::invalid_alignment)
        << "memory form, not RAM";
    EXPECT_EQ(status_of(hv->dispatch(HypercallInput{call::kSignalEvent | control::kFast |
                                                        (uint64_t{3} << control::kRepCountShift),
                                                    1, 0},
                                     {}, ram)),
              HvStatus::invalid_hypercall_input)
        << "not a rep call";
}

TEST_F(SynicHypercalls, SignalEventOnlyAtCplZeroWithTheHypercallPage) {
    EXPECT_EQ(hv->dispatch(HypercallInput{call::kSignalEvent | control::kFast, 1, 0},
                           {.protected_mode = true, .long_mode = true, .cpl = 3}, ram)
                  .outcome,
              HypercallOutcome::undefined_opcode);
    ASSERT_TRUE(hv->write_msr(0, msr::kGuestOsId, 0, ram)); // disables the page
    EXPECT_EQ(signal_fast(1).outcome, HypercallOutcome::undefined_opcode);
}

// --- the port's answers ---

TEST(CallPort, NoPortIsInvalidConnectionIdAndPortStatusesPassThrough) {
    PortCall message;
    message.kind = PortCall::Kind::message;
    message.message_type = 1;
    PortCall event;
    event.kind = PortCall::Kind::event;
    EXPECT_EQ(call_port(message, nullptr, 0), HvStatus::invalid_connection_id);
    EXPECT_EQ(call_port(event, nullptr, 0), HvStatus::invalid_connection_id);
    RecordingPort port;
    port.answer = PortStatus::insufficient_buffers;
    EXPECT_EQ(call_port(message, &port, 0), HvStatus::insufficient_buffers);
    port.answer = PortStatus::invalid_parameter;
    EXPECT_EQ(call_port(event, &port, 0), HvStatus::invalid_parameter);
    port.answer = PortStatus::invalid_connection_id;
    EXPECT_EQ(call_port(event, &port, 0), HvStatus::invalid_connection_id);
    EXPECT_EQ(call_port(PortCall{}, &port, 0), HvStatus::invalid_hypercall_code)
        << "nothing to call";
    EXPECT_EQ(static_cast<uint16_t>(HvStatus::invalid_connection_id), 0x12);
    EXPECT_EQ(static_cast<uint16_t>(HvStatus::insufficient_buffers), 0x13);
    EXPECT_EQ(static_cast<uint16_t>(HvStatus::invalid_synic_state), 0x18);
    EXPECT_EQ(static_cast<uint16_t>(HvStatus::invalid_port_id), 0x11);
}

} // namespace
} // namespace halcyon::vmm::hyperv
