// HvCallPostMessage (0x005C) and HvCallSignalEvent (0x005D): the guest -> host half of the
// SynIC. The hypervisor validates the input; the SynicPort registered for the connection id
// (connection_table.hpp) does the rest. Two steps, so that the port is called with no lock
// held: decode_*() check the input and fill a PortCall (under the Hyper-V lock, like every
// hypercall), call_port() runs it against the port the partition looked up (after the lock).
//
// HvPostMessage, memory form only (its input is 256 bytes):
//     0 u32 connection id   4 u32 RsvdZ   8 u32 message type   12 u32 payload size
//    16 payload (240 bytes, the first `payload size` sent)
// HvSignalEvent, fast (RDX) or memory form (8 bytes):
//     bits 31:0 connection id   47:32 flag number   63:48 RsvdZ
// Status codes (TLFS, with the common checks of hypercall.hpp before them):
//   invalid_hypercall_input  a RsvdZ field, or the reserved high 8 bits of the connection id,
//                            not zero (the TLFS's rule for the control word's reserved bits)
//   invalid_alignment        the input block is not guest RAM (the TLFS reports an unmapped
//                            input page to the parent; the guest's own view is this)
//   invalid_parameter        message type 0 or with the hypervisor's high bit, payload size
//                            above 240, flag number beyond a SINT's 2048 event flags
//   invalid_connection_id    no port for the connection id
//   anything else            what the port returns (insufficient_buffers, invalid_parameter)
#pragma once

#include "vmm/hyperv/guest_memory.hpp"
#include "vmm/hyperv/hypercall.hpp"
#include "vmm/hyperv/synic_ports.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vmm::hyperv {

inline constexpr uint16_t kPostMessageInputBytes = 256;
inline constexpr uint16_t kSignalEventInputBytes = 8;

// A validated guest -> host call.
struct PortCall {
    enum class Kind : uint8_t { none, message, event };
    Kind kind = Kind::none;
    uint32_t connection_id = 0;
    uint32_t message_type = 0; // message
    uint16_t flag_number = 0;  // event
    uint8_t payload_size = 0;  // message
    uint8_t payload[kMaxMessagePayloadBytes] = {};
    [[nodiscard]] std::span<const uint8_t> bytes() const { return {payload, payload_size}; }
};

[[nodiscard]] HvStatus decode_post_message(const HypercallControl& control,
                                           const HypercallInput& input, GuestMemory& memory,
                                           PortCall& call);
[[nodiscard]] HvStatus decode_signal_event(const HypercallControl& control,
                                           const HypercallInput& input, GuestMemory& memory,
                                           PortCall& call);

// Runs `call` (from the guest's vCPU `vcpu`) on `port`, the one registered for its connection
// id (nullptr if none).
[[nodiscard]] HvStatus call_port(const PortCall& call, SynicPort* port, uint32_t vcpu);

} // namespace halcyon::vmm::hyperv
