// Bridges the switch's frame model (vswitch/packet) to the ACL: extracts the facts a port ACL
// classifies on from a frame that parse_headers() has already parsed.
#pragma once

#include "vswitch/acl/acl_types.hpp"
#include "vswitch/packet/frame.hpp"
#include "vswitch/packet/protocols.hpp"

namespace halcyon::vswitch::acl {

// `direction` is the frame's direction relative to the port whose ACL runs: outbound when the
// port's VM sent it, inbound when the switch is delivering it to the port.
// Inline: the switch asks it for every frame on a port with an ACL.
[[nodiscard]] inline PacketFacts packet_facts_of(const Frame& frame, Direction direction) {
    PacketFacts facts;
    facts.direction = direction;
    facts.length_bytes = frame.length;
    const uint8_t* data = frame.data();
    if (frame.length < kEthernetHeaderSize)
        return facts;
    facts.destination_mac = MacAddress::from(data);
    facts.source_mac = MacAddress::from(data + 6);

    const ParsedHeaders& h = frame.headers;
    if (!h.has(parse_flag::parsed))
        return facts;
    if (h.l3 == L3Kind::ipv4 && h.l3_offset + 20u <= frame.length) {
        facts.family = AddressFamily::ipv4;
        facts.source_address = IpAddress::from(Ipv4Address::from(data + h.l3_offset + 12));
        facts.destination_address = IpAddress::from(Ipv4Address::from(data + h.l3_offset + 16));
    } else if (h.l3 == L3Kind::ipv6 && h.l3_offset + 40u <= frame.length) {
        facts.family = AddressFamily::ipv6;
        facts.source_address = IpAddress::from(Ipv6Address::from(data + h.l3_offset + 8));
        facts.destination_address = IpAddress::from(Ipv6Address::from(data + h.l3_offset + 24));
    } else {
        return facts;
    }
    facts.protocol = h.ip_protocol;
    if (!h.has(parse_flag::has_l4))
        return facts; // a non-first fragment: no ports, so port-qualified rules cannot match
    if (h.ip_protocol == ip_protocol::tcp || h.ip_protocol == ip_protocol::udp) {
        facts.has_ports = true;
        facts.source_port = h.src_port;
        facts.destination_port = h.dst_port;
        return facts;
    }
    const bool v4_icmp = facts.family == AddressFamily::ipv4 && h.ip_protocol == ip_protocol::icmp;
    const bool v6_icmp =
        facts.family == AddressFamily::ipv6 && h.ip_protocol == ip_protocol::icmpv6;
    // The parser checked the 8-byte ICMP header is present; the echo identifier is bytes 4..5.
    if ((v4_icmp || v6_icmp) && h.l4_offset + 8u <= frame.length) {
        const uint8_t request = v4_icmp ? icmpv4_type::echo_request : icmpv6_type::echo_request;
        const uint8_t reply = v4_icmp ? icmpv4_type::echo_reply : uint8_t{129};
        facts.is_icmp_echo_request = h.icmp_type == request;
        facts.is_icmp_echo_reply = h.icmp_type == reply;
        facts.icmp_echo_identifier = load_be16(data + h.l4_offset + 4);
    }
    return facts;
}

} // namespace halcyon::vswitch::acl
