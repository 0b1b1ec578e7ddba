#include "vmm/hyperv/synic_hypercalls.hpp"

#include "vmm/hyperv/connection_table.hpp"
#include "vmm/hyperv/synic_layout.hpp"

#include <string.h>

namespace halcyon::vmm::hyperv {
namespace {

uint32_t load32(const uint8_t* bytes) {
    uint32_t value;
    memcpy(&value, bytes, 4);
    return value;
}

} // namespace

HvStatus decode_post_message(const HypercallControl& control, const HypercallInput& input,
                             GuestMemory& memory, PortCall& call) {
    (void)control; // memory form only: validate_hypercall refused the fast one
    uint8_t header[16];
    if (!memory.read(input.input, header))
        return HvStatus::invalid_alignment;
    const uint32_t connection_id = load32(header);
    const uint32_t reserved = load32(header + 4);
    const uint32_t type = load32(header + 8);
    const uint32_t size = load32(header + 12);
    if ((connection_id & ~kConnectionIdMask) != 0 || reserved != 0)
        return HvStatus::invalid_hypercall_input;
    if (type == kMessageTypeNone || (type & kMessageTypeHypervisorMask) != 0 ||
        size > kMaxMessagePayloadBytes)
        return HvStatus::invalid_parameter;
    call = PortCall{};
    if (size != 0 && !memory.read(input.input + 16, {call.payload, size}))
        return HvStatus::invalid_alignment;
    call.kind = PortCall::Kind::message;
    call.connection_id = connection_id;
    call.message_type = type;
    call.payload_size = static_cast<uint8_t>(size);
    return HvStatus::success;
}

HvStatus decode_signal_event(const HypercallControl& control, const HypercallInput& input,
                             GuestMemory& memory, PortCall& call) {
    uint64_t value = input.input; // fast: the parameters themselves
    if (!control.fast) {
        uint8_t block[8];
        if (!memory.read(input.input, block))
            return HvStatus::invalid_alignment;
        memcpy(&value, block, 8);
    }
    const auto connection_id = static_cast<uint32_t>(value);
    const auto flag_number = static_cast<uint16_t>(value >> 32);
    if ((connection_id & ~kConnectionIdMask) != 0 || (value >> 48) != 0)
        return HvStatus::invalid_hypercall_input;
    // A port's flags are a range of one SINT's 2048 flags (base + count): no port has more.
    if (flag_number >= kEventFlagsPerSint)
        return HvStatus::invalid_parameter;
    call = PortCall{};
    call.kind = PortCall::Kind::event;
    call.connection_id = connection_id;
    call.flag_number = flag_number;
    return HvStatus::success;
}

HvStatus call_port(const PortCall& call, SynicPort* port, uint32_t vcpu) {
    if (call.kind == PortCall::Kind::none)
        return HvStatus::invalid_hypercall_code;
    if (port == nullptr)
        return HvStatus::invalid_connection_id;
    const PortStatus status = call.kind == PortCall::Kind::message
                                  ? port->on_message(vcpu, call.message_type, call.bytes())
                                  : port->on_event(vcpu, call.flag_number);
    // PortStatus values are HV_STATUS codes (synic_ports.hpp).
    return static_cast<HvStatus>(static_cast<uint16_t>(status));
}

} // namespace halcyon::vmm::hyperv
