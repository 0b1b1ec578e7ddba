// Bridges the switch's frame model (vswitch/packet) to the ACL: extracts the facts a port ACL
// classifies on from a frame that parse_headers() has already parsed.
#pragma once

#include "vswitch/acl/acl_types.hpp"
#include "vswitch/packet/frame.hpp"

namespace halcyon::vswitch::acl {

// `direction` is the frame's direction relative to the port whose ACL runs: outbound when the
// port's VM sent it, inbound when the switch is delivering it to the port.
[[nodiscard]] PacketFacts packet_facts_of(const Frame& frame, Direction direction);

} // namespace halcyon::vswitch::acl
