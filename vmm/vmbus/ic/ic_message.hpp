// Encoding and decoding of the IC framing (pipe header + icmsg_hdr) and of the version
// negotiation message every IC channel starts with. Pure functions over byte spans; every
// decoder checks lengths before it reads.
#pragma once

#include "lib/base/error_or.hpp"
#include "vmm/vmbus/ic/ic_protocol.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vmm::vmbus::ic {

struct MessageHeader {
    Version framework;
    uint16_t type = 0;
    Version message;
    uint16_t size = 0; // icmsgsize
    uint32_t status = 0;
    uint8_t transaction = 0;
    uint8_t flags = 0;
};

// Writes the pipe header (type data, size = packet.size() - 8) and `header` into the first
// kIcHeaderBytes of `packet` (which must be at least that long).
void write_header(std::span<uint8_t> packet, const MessageHeader& header);
// Reads the IC header of a packet; invalid_argument if it is shorter than kIcHeaderBytes.
[[nodiscard]] ErrorOr<MessageHeader> read_header(std::span<const uint8_t> packet);

// Bytes of a NEGOTIATE message body (after the IC header) listing these versions.
[[nodiscard]] constexpr uint32_t negotiate_body_bytes(uint32_t framework_count,
                                                      uint32_t message_count) {
    return negotiate::kVersions + (framework_count + message_count) * negotiate::kVersionBytes;
}
// Writes a NEGOTIATE body offering `frameworks` and `messages` into `body`; returns its size.
// invalid_argument if it does not fit or a list is empty or too long for the guest.
[[nodiscard]] ErrorOr<uint32_t> write_negotiate(std::span<uint8_t> body,
                                                std::span<const Version> frameworks,
                                                std::span<const Version> messages);

struct NegotiateResult {
    bool agreed = false; // false: the guest shares no framework or no message version with us
    Version framework;
    Version message;
};
// The guest's answer to our NEGOTIATE (the body after the IC header): one framework and one
// message version that must be among those offered, or zero counts for "no common version".
// Anything else is a protocol violation (invalid_argument).
[[nodiscard]] ErrorOr<NegotiateResult> read_negotiate_response(std::span<const uint8_t> body,
                                                               std::span<const Version> frameworks,
                                                               std::span<const Version> messages);

} // namespace halcyon::vmm::vmbus::ic
