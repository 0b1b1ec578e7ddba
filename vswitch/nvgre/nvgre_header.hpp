// NVGRE on the wire (RFC 7637): an outer Ethernet header, an outer IPv4 or IPv6 header between
// provider addresses (protocol 47), and an 8-byte GRE header with only the K bit set (C = S = 0,
// version 0), protocol type 0x6558 (Transparent Ethernet Bridging) and the key
// VSID (24 bits) << 8 | FlowID (8 bits), followed by the customer's Ethernet frame without FCS.
#pragma once

#include "lib/base/error_or.hpp"
#include "vswitch/nvgre/nvgre_types.hpp"
#include "vswitch/packet/frame.hpp"
#include "vswitch/packet/protocols.hpp"

#include <stdint.h>

namespace halcyon::vswitch::nvgre {

inline constexpr uint32_t kGreHeaderSize = 8;
inline constexpr uint16_t kGreKeyFlag = 0x2000;
inline constexpr uint32_t kOuterIpv4Overhead = 14 + 20 + kGreHeaderSize;
inline constexpr uint32_t kOuterIpv6Overhead = 14 + 40 + kGreHeaderSize;

[[nodiscard]] constexpr uint32_t nvgre_key(Vsid vsid, uint8_t flow_id) {
    return (vsid & 0xFFFFFF) << 8 | flow_id;
}

struct EncapsulationParams {
    MacAddress outer_source_mac;
    MacAddress outer_destination_mac;
    NetAddress source_pa;      // this host's provider address
    NetAddress destination_pa; // same family as source_pa
    Vsid vsid = 0;
    uint8_t flow_id = 0;
    uint8_t ttl = 64;
    uint8_t traffic_class = 0; // DSCP/ECN byte copied from the customer packet
    uint16_t ipv4_identification = 0;
    uint32_t provider_mtu = 1500; // largest outer IP packet the provider network carries
};

namespace detail {

// The outer IPv4 header's checksum from its field values (RFC 1071 sum of the ten 16-bit words),
// without reading the header back.
[[nodiscard, gnu::always_inline]] inline uint16_t
outer_ipv4_checksum(const EncapsulationParams& params, uint32_t length) {
    const uint8_t* source = params.source_pa.bytes.data();
    const uint8_t* destination = params.destination_pa.bytes.data();
    uint32_t sum = (0x45u << 8 | params.traffic_class) + length + params.ipv4_identification +
                   0x4000u + (uint32_t{params.ttl} << 8 | ip_protocol::gre);
    sum += load_be16(source) + load_be16(source + 2) + load_be16(destination) +
           load_be16(destination + 2);
    // At most ten 16-bit words: two folds leave 16 bits.
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum += sum >> 16;
    return static_cast<uint16_t>(~sum);
}

// What parse_headers() reports for the packet encapsulate() just built.
inline void describe_outer(ParsedHeaders& h, bool v6, uint32_t frame_length, uint8_t ttl,
                           uint32_t key) {
    const uint32_t ip_header = v6 ? 40 : 20;
    h = {};
    h.flags = parse_flag::parsed | parse_flag::has_l4 | parse_flag::gre | parse_flag::gre_key;
    h.ethertype = v6 ? ethertype::ipv6 : ethertype::ipv4;
    h.l3 = v6 ? L3Kind::ipv6 : L3Kind::ipv4;
    h.l3_offset = kEthernetHeaderSize;
    h.l3_end = static_cast<uint16_t>(frame_length);
    h.l4_offset = static_cast<uint16_t>(kEthernetHeaderSize + ip_header);
    h.payload_offset = static_cast<uint16_t>(kEthernetHeaderSize + ip_header + kGreHeaderSize);
    h.ip_protocol = ip_protocol::gre;
    h.ttl = ttl;
    h.gre_protocol = ethertype::transparent_ethernet;
    h.gre_key = key;
}

} // namespace detail

// Wraps `frame` (a customer Ethernet frame) in NVGRE using its headroom. Errors, frame unchanged:
// out_of_range when the outer IP packet would exceed the provider MTU (we never fragment: Hyper-V
// expects guests' MTU to leave room for the 42 bytes of encapsulation), corrupt when the frame
// would exceed 64 KiB (no parser accepts it), out_of_memory when the frame lacks headroom,
// invalid_argument for mixed PA families or an invalid VSID. On success frame.headers describe the
// outer packet exactly as parse_headers() would, without parsing it again (the encapsulation wrote
// every byte of it). (Inline: the switch encapsulates every frame leaving a virtual subnet for
// another host.)
[[gnu::always_inline]] inline ErrorOr<void> encapsulate(Frame& frame,
                                                        const EncapsulationParams& params) {
    if (params.source_pa.is_ipv6 != params.destination_pa.is_ipv6)
        return Error(ErrorCode::invalid_argument,
                     "NVGRE source and destination PA families differ");
    if (!is_valid_vsid(params.vsid))
        return Error(ErrorCode::invalid_argument, "NVGRE VSID outside 4096..16777214");
    const bool v6 = params.source_pa.is_ipv6;
    const uint32_t ip_header = v6 ? 40 : 20;
    const uint32_t ip_packet = ip_header + kGreHeaderSize + frame.length;
    if (ip_packet > params.provider_mtu || ip_packet > 0xFFFF)
        return Error(ErrorCode::out_of_range, "NVGRE packet would exceed the provider MTU");
    const uint32_t overhead = kEthernetHeaderSize + ip_header + kGreHeaderSize;
    if (frame.length + overhead > 0xFFFF)
        return Error(ErrorCode::corrupt, "NVGRE frame would exceed 64 KiB");
    if (!frame.push_front(overhead))
        return Error(ErrorCode::out_of_memory, "frame has too little headroom for NVGRE");

    uint8_t* p = frame.data();
    __builtin_memcpy(p, params.outer_destination_mac.bytes.data(), 6);
    __builtin_memcpy(p + 6, params.outer_source_mac.bytes.data(), 6);
    store_be16(p + 12, v6 ? ethertype::ipv6 : ethertype::ipv4);
    uint8_t* ip = p + kEthernetHeaderSize;
    if (v6) {
        // Version 6, traffic class, flow label from the FlowID so provider ECMP can use either.
        store_be32(ip, 6u << 28 | uint32_t{params.traffic_class} << 20 | uint32_t{params.flow_id});
        store_be16(ip + 4, static_cast<uint16_t>(kGreHeaderSize + (frame.length - overhead)));
        ip[6] = ip_protocol::gre;
        ip[7] = params.ttl;
        __builtin_memcpy(ip + 8, params.source_pa.bytes.data(), 16);
        __builtin_memcpy(ip + 24, params.destination_pa.bytes.data(), 16);
    } else {
        // Version/IHL, DSCP/ECN, total length; identification, DF (the provider path must not
        // fragment tenant traffic); TTL, protocol, checksum; the two PAs.
        store_be32(ip, 0x45u << 24 | uint32_t{params.traffic_class} << 16 | ip_packet);
        store_be32(ip + 4, uint32_t{params.ipv4_identification} << 16 | 0x4000u);
        store_be32(ip + 8, uint32_t{params.ttl} << 24 | uint32_t{ip_protocol::gre} << 16 |
                               detail::outer_ipv4_checksum(params, ip_packet));
        __builtin_memcpy(ip + 12, params.source_pa.bytes.data(), 4);
        __builtin_memcpy(ip + 16, params.destination_pa.bytes.data(), 4);
    }
    uint8_t* gre = ip + ip_header;
    const uint32_t key = nvgre_key(params.vsid, params.flow_id);
    // K only, version 0; Transparent Ethernet Bridging; the key.
    store_be32(gre, uint32_t{kGreKeyFlag} << 16 | ethertype::transparent_ethernet);
    store_be32(gre + 4, key);
    detail::describe_outer(frame.headers, v6, frame.length, params.ttl, key);
    return {};
}

// What a received NVGRE packet says, read from a frame parse_headers() has parsed.
struct NvgreView {
    NetAddress outer_source;
    NetAddress outer_destination;
    Vsid vsid = 0;
    uint8_t flow_id = 0;
    uint32_t inner_offset = 0; // the customer frame, relative to frame.data()
    uint32_t inner_length = 0;
};

enum class NvgreParse : uint8_t {
    not_nvgre, // not IP/GRE carrying Transparent Ethernet Bridging: someone else's traffic
    malformed, // claims to be NVGRE but breaks RFC 7637 (flags, version, key, truncation)
    ok,
};

[[nodiscard]] NvgreParse parse_nvgre(const Frame& frame, NvgreView& view);

// FlowID: 8 bits of entropy from the customer flow (addresses, protocol, ports) so that ECMP in
// the provider network keeps one flow on one path (RFC 7637 section 3.1).
[[nodiscard]] uint8_t flow_id_of(std::span<const uint8_t> customer_frame,
                                 const ParsedHeaders& headers);

} // namespace halcyon::vswitch::nvgre
