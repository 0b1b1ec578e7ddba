// The bounds-checked header parser. It reads only bytes inside [data, data + length): every field
// access is preceded by a length check, so a hostile frame can at worst be rejected.
#pragma once

#include "lib/base/error_or.hpp"
#include "vswitch/packet/bytes.hpp"
#include "vswitch/packet/frame.hpp"
#include "vswitch/packet/protocols.hpp"

namespace halcyon::vswitch {

// Upper bound on IPv6 extension headers walked before the frame is called malformed; real traffic
// uses at most a few, and the bound keeps the per-packet cost bounded for hostile input.
inline constexpr uint32_t kMaxIpv6ExtensionHeaders = 8;

// Parses Ethernet, up to two VLAN tags (802.1Q / 802.1ad), then ARP, IPv4 (with options) or IPv6
// (with extension headers), then TCP, UDP, ICMPv4, ICMPv6 or GRE. Fills frame.headers. An error
// (ErrorCode::corrupt, with a message saying which header) means the frame is malformed: a
// recognised header is truncated or inconsistent. Unknown ethertypes and IP protocols are not
// errors; they just stop the parse at that layer.
[[nodiscard]] ErrorOr<void> parse_headers(Frame& frame);

// Parses the same headers from a raw span into `out` (for components that look at an inner frame
// without a Frame, e.g. the NVGRE payload).
[[nodiscard]] ErrorOr<void> parse_headers(std::span<const uint8_t> bytes, ParsedHeaders& out);

// parse_headers() without its shortcut for common frames (parse_common_ipv4() below): every
// frame layer by layer. Both give the same result; tests compare them.
[[nodiscard]] ErrorOr<void> parse_headers_layered(std::span<const uint8_t> bytes,
                                                  ParsedHeaders& out);

// The same two parses for the packet path, which only needs to know whether the frame is
// malformed: false where the functions above return an error (and the same headers result).
[[nodiscard]] bool parse_frame_headers(const uint8_t* bytes, uint32_t length, ParsedHeaders& out);
[[nodiscard]] bool parse_frame_general(Frame& frame);

namespace parse_detail {

// What parse_common_ipv4() stores: every field of `h`, those it does not set zero.
[[gnu::always_inline]] inline void store_ipv4(ParsedHeaders& h, uint16_t flags, uint16_t l3_end,
                                              uint16_t payload_offset, uint8_t protocol,
                                              uint8_t ttl, uint16_t source_port,
                                              uint16_t destination_port, uint8_t tcp_flags,
                                              uint16_t gre_protocol, uint32_t gre_key) {
    ParsedHeaders r;
    r.flags = flags;
    r.ethertype = ethertype::ipv4;
    r.l3 = L3Kind::ipv4;
    r.l3_offset = kEthernetHeaderSize;
    r.l3_end = l3_end;
    r.l4_offset = kEthernetHeaderSize + 20;
    r.payload_offset = payload_offset;
    r.ip_protocol = protocol;
    r.ttl = ttl;
    r.src_port = source_port;
    r.dst_port = destination_port;
    r.tcp_flags = tcp_flags;
    r.gre_protocol = gre_protocol;
    r.gre_key = gre_key;
    h = r;
}

} // namespace parse_detail

// The frames a switch sees most: untagged IPv4 without options or fragmentation, carrying UDP,
// TCP or NVGRE's GRE (key only). Checked and described in one pass, the whole result built in
// registers and stored once; it is exactly what the layer-by-layer parse (parser.cpp) produces
// for such a frame. False (nothing written) for anything else, which the general parse handles.
// Inline so the switch's admission loop parses without a call.
[[nodiscard, gnu::always_inline]] inline bool parse_common_ipv4(const uint8_t* p, uint32_t length,
                                                                ParsedHeaders& h) {
    constexpr uint32_t l3 = kEthernetHeaderSize;
    constexpr uint32_t l4 = l3 + 20;
    if (length < l4 || length > 0xFFFF || load_be16(p + 12) != ethertype::ipv4 || p[l3] != 0x45)
        return false;
    const uint32_t total_length = load_be16(p + l3 + 2);
    // Fragment offset or more-fragments set: the general parse tells the cases apart.
    if (total_length < 20 || total_length > length - l3 || (load_be16(p + l3 + 6) & 0x3FFF) != 0)
        return false;
    const uint32_t available = total_length - 20;
    const uint8_t protocol = p[l3 + 9];
    const uint8_t* header = p + l4;
    const uint16_t l3_end = static_cast<uint16_t>(l3 + total_length);
    const uint8_t ttl = p[l3 + 8];
    // Each protocol stores its result itself, with what it knows as constants: one store per
    // field, no values carried to a common exit.
    if (protocol == ip_protocol::udp) {
        const uint32_t udp_length = available >= 8 ? load_be16(header + 4) : 0;
        if (udp_length < 8 || udp_length > available)
            return false;
        parse_detail::store_ipv4(h, parse_flag::parsed | parse_flag::has_l4, l3_end, l4 + 8,
                                 protocol, ttl, load_be16(header), load_be16(header + 2), 0, 0, 0);
        return true;
    }
    if (protocol == ip_protocol::tcp) {
        const uint32_t header_length = available >= 20 ? (header[12] >> 4) * 4u : 0;
        if (header_length < 20 || header_length > available)
            return false;
        parse_detail::store_ipv4(h, parse_flag::parsed | parse_flag::has_l4, l3_end,
                                 static_cast<uint16_t>(l4 + header_length), protocol, ttl,
                                 load_be16(header), load_be16(header + 2), header[13], 0, 0);
        return true;
    }
    if (protocol == ip_protocol::gre) {
        if (available < 8 || load_be16(header) != gre_flag::key)
            return false;
        parse_detail::store_ipv4(h,
                                 parse_flag::parsed | parse_flag::has_l4 | parse_flag::gre |
                                     parse_flag::gre_key | parse_flag::gre_key_only,
                                 l3_end, l4 + 8, protocol, ttl, 0, 0, 0, load_be16(header + 2),
                                 load_be32(header + 4));
        return true;
    }
    return false;
}

[[nodiscard]] inline bool parse_frame(Frame& frame) {
    if (parse_common_ipv4(frame.data(), frame.length, frame.headers)) [[likely]]
        return true;
    return parse_frame_general(frame);
}

} // namespace halcyon::vswitch
