// What parse_headers() learned about a frame: offsets of each layer from the start of the frame's
// data and the fields the switch decides on. Offsets are 16-bit because a frame is at most 64 KiB.
#pragma once

#include <stdint.h>

namespace halcyon::vswitch {

enum class L3Kind : uint8_t { none, arp, ipv4, ipv6, other };

namespace parse_flag {
inline constexpr uint16_t parsed = 1u << 0;      // parse_headers() ran and succeeded
inline constexpr uint16_t vlan_tagged = 1u << 1; // at least one 802.1Q/802.1ad tag present
inline constexpr uint16_t double_tagged = 1u << 2;
inline constexpr uint16_t ipv4_options = 1u << 3;
inline constexpr uint16_t ipv6_extensions = 1u << 4;
inline constexpr uint16_t fragment = 1u << 5;       // non-first fragment: no L4 header here
inline constexpr uint16_t more_fragments = 1u << 6; // first fragment of a fragmented datagram
inline constexpr uint16_t has_l4 = 1u << 7;         // l4_offset valid and the L4 header complete
inline constexpr uint16_t gre = 1u << 8;            // GRE version 0 header parsed
inline constexpr uint16_t gre_key = 1u << 9;
inline constexpr uint16_t gre_checksum = 1u << 10;
inline constexpr uint16_t gre_sequence = 1u << 11;
inline constexpr uint16_t ipv6_esp = 1u << 12; // encrypted payload: L4 opaque
// GRE flags and version were exactly K (0x2000): no checksum, sequence, routing or reserved bits,
// version 0 — the header NVGRE (RFC 7637) requires, so gre_protocol and gre_key say it all.
inline constexpr uint16_t gre_key_only = 1u << 13;
} // namespace parse_flag

struct ParsedHeaders {
    uint16_t flags = 0;
    uint16_t ethertype = 0; // after any VLAN tags (a length < 0x600 for 802.3 frames)
    uint16_t outer_tpid = 0;
    uint16_t outer_tci = 0; // first tag on the wire
    uint16_t inner_tci = 0; // second tag (802.1ad double tagging)
    uint8_t tag_count = 0;
    L3Kind l3 = L3Kind::none;
    uint16_t l3_offset = 0;
    uint16_t l3_end = 0; // end of the IP datagram (excludes Ethernet padding); frame end otherwise
    uint16_t l4_offset = 0;
    uint16_t payload_offset = 0; // first byte after the L4 header (or after the GRE header)
    uint8_t ip_protocol = 0;     // final upper-layer protocol (after IPv6 extension headers)
    uint8_t ttl = 0;             // IPv4 TTL / IPv6 hop limit
    uint16_t src_port = 0;       // TCP/UDP
    uint16_t dst_port = 0;
    uint8_t tcp_flags = 0;
    uint8_t icmp_type = 0; // ICMPv4 / ICMPv6
    uint8_t icmp_code = 0;
    uint16_t gre_protocol = 0;
    uint32_t gre_key = 0;

    [[nodiscard]] bool has(uint16_t flag) const { return (flags & flag) != 0; }
};

} // namespace halcyon::vswitch
