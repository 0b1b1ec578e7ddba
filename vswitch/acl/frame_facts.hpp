// Bridges the switch's frame model (vswitch/packet) to the ACL: extracts the facts a port ACL
// classifies on from a frame that parse_headers() has already parsed.
#pragma once

#include "vswitch/acl/acl_types.hpp"
#include "vswitch/acl/classification_cache.hpp"
#include "vswitch/packet/frame.hpp"
#include "vswitch/packet/protocols.hpp"

#include <bit>
#include <stddef.h>

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

// CacheKey::of(packet_facts_of(frame, direction), direction_slot(direction)) for an IPv4 frame,
// straight from the frame and its parsed headers without building the facts (the key is all a
// classification cache hit needs): CacheKey's layout is the frame's byte order, so this is four
// loads and the small fields. False, `key` untouched, for any other frame. A test holds the two
// equal.
[[nodiscard, gnu::always_inline]] inline bool
ipv4_cache_key_of(const Frame& frame, Direction direction, CacheKey& key) {
    if constexpr (std::endian::native != std::endian::little)
        return false; // the layout is that of little-endian loads: use the facts instead
    const ParsedHeaders& h = frame.headers;
    if (h.l3 != L3Kind::ipv4 || !h.has(parse_flag::parsed) || frame.length < kEthernetHeaderSize ||
        h.l3_offset + 20u > frame.length)
        return false;
    const uint8_t* data = frame.data();
    const bool ports = h.has(parse_flag::has_l4) &&
                       (h.ip_protocol == ip_protocol::tcp || h.ip_protocol == ip_protocol::udp);
    uint64_t macs;
    uint32_t source_mac_tail;
    uint64_t addresses;
    uint32_t port_pair; // src_port, dst_port as they lie in ParsedHeaders
    static_assert(offsetof(ParsedHeaders, dst_port) == offsetof(ParsedHeaders, src_port) + 2);
    __builtin_memcpy(&macs, data, 8);
    __builtin_memcpy(&source_mac_tail, data + 8, 4);
    __builtin_memcpy(&addresses, data + h.l3_offset + 12, 8);
    __builtin_memcpy(&port_pair, &h.src_port, 4);
    key.words[0] = macs;
    key.words[1] = source_mac_tail | CacheKey::small_fields(h.ip_protocol, AddressFamily::ipv4,
                                                            ports, direction_slot(direction));
    // The parser sets ports only for TCP/UDP with a complete header; should a frame's headers
    // say otherwise, this key (has_ports clear, ports not zero) is one no entry has, and the
    // packet takes evaluate().
    key.words[2] = port_pair;
    key.words[3] = addresses;
    key.words[4] = 0;
    key.words[5] = 0;
    key.words[6] = 0;
    return true;
}

// CacheKey::narrow() of an IPv4 frame under `mask` — what narrow_key_of() gives for the frame's
// facts — straight from the frame. False, `key` untouched, for any other frame. A test holds the
// two equal.
[[nodiscard, gnu::always_inline]] inline bool
narrow_cache_key_of(const Frame& frame, const NarrowMask& mask, CacheKey& key) {
    if constexpr (std::endian::native != std::endian::little)
        return false; // the layout is that of little-endian loads: use the facts instead
    const ParsedHeaders& h = frame.headers;
    if (h.l3 != L3Kind::ipv4 || !h.has(parse_flag::parsed) || frame.length < kEthernetHeaderSize ||
        h.l3_offset + 20u > frame.length)
        return false;
    const bool ports = h.has(parse_flag::has_l4) &&
                       (h.ip_protocol == ip_protocol::tcp || h.ip_protocol == ip_protocol::udp);
    uint64_t addresses;
    uint32_t port_pair;
    __builtin_memcpy(&addresses, frame.data() + h.l3_offset + 12, 8);
    __builtin_memcpy(&port_pair, &h.src_port, 4);
    key = CacheKey::narrow(mask, addresses, port_pair, h.ip_protocol, ports);
    return true;
}

} // namespace halcyon::vswitch::acl
