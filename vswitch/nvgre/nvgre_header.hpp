// NVGRE on the wire (RFC 7637): an outer Ethernet header, an outer IPv4 or IPv6 header between
// provider addresses (protocol 47), and an 8-byte GRE header with only the K bit set (C = S = 0,
// version 0), protocol type 0x6558 (Transparent Ethernet Bridging) and the key
// VSID (24 bits) << 8 | FlowID (8 bits), followed by the customer's Ethernet frame without FCS.
#pragma once

#include "lib/base/error_or.hpp"
#include "vswitch/nvgre/nvgre_types.hpp"
#include "vswitch/packet/frame.hpp"
#include "vswitch/packet/protocols.hpp"

#include <array>
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
    h.flags = parse_flag::parsed | parse_flag::has_l4 | parse_flag::gre | parse_flag::gre_key |
              parse_flag::gre_key_only;
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

// Writes the outer Ethernet, IP and GRE headers (`overhead` bytes) at `p` for a customer frame of
// `inner_length` bytes. The parameters must be valid (checked by the callers below).
[[gnu::always_inline]] inline void
write_outer_headers(uint8_t* p, const EncapsulationParams& params, uint32_t inner_length) {
    const bool v6 = params.source_pa.is_ipv6;
    const uint32_t ip_header = v6 ? 40 : 20;
    const uint32_t ip_packet = ip_header + kGreHeaderSize + inner_length;
    __builtin_memcpy(p, params.outer_destination_mac.bytes.data(), 6);
    __builtin_memcpy(p + 6, params.outer_source_mac.bytes.data(), 6);
    store_be16(p + 12, v6 ? ethertype::ipv6 : ethertype::ipv4);
    uint8_t* ip = p + kEthernetHeaderSize;
    if (v6) {
        // Version 6, traffic class, flow label from the FlowID so provider ECMP can use either.
        store_be32(ip, 6u << 28 | uint32_t{params.traffic_class} << 20 | uint32_t{params.flow_id});
        store_be16(ip + 4, static_cast<uint16_t>(kGreHeaderSize + inner_length));
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
    // K only, version 0; Transparent Ethernet Bridging; the key.
    store_be32(gre, uint32_t{kGreKeyFlag} << 16 | ethertype::transparent_ethernet);
    store_be32(gre + 4, nvgre_key(params.vsid, params.flow_id));
}

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
    const uint32_t inner_length = frame.length;
    if (!frame.push_front(overhead))
        return Error(ErrorCode::out_of_memory, "frame has too little headroom for NVGRE");
    write_outer_headers(frame.data(), params, inner_length);
    detail::describe_outer(frame.headers, v6, frame.length, params.ttl,
                           nvgre_key(params.vsid, params.flow_id));
    return {};
}

// The outer headers of one customer flow, built once (make_outer_template) and then copied in
// front of each of its packets (encapsulate_from): every byte encapsulate() writes is the same
// for all packets of a flow except the outer IP length, the DSCP/ECN byte, the IPv4
// identification and, following from them, the IPv4 header checksum. Those are patched per
// packet; the checksum starts from the sum of the fixed words, so it is three additions and a
// fold rather than a pass over the header. frame.headers is copied from `headers` too (only its
// l3_end, the frame length, changes).
struct OuterTemplate {
    std::array<uint8_t, kOuterIpv6Overhead> bytes{};
    ParsedHeaders headers;      // describe_outer() of the packet, but for l3_end
    uint32_t inner_limit = 0;   // customer frames shorter than this pass encapsulate()'s checks
    uint32_t checksum_base = 0; // IPv4: unfolded sum of the header words that never change
    uint32_t provider_mtu = 0;
    uint8_t size = 0; // bytes in use: kOuterIpv4Overhead or kOuterIpv6Overhead
    bool ipv6 = false;
    uint8_t flow_id = 0;
};

// Builds the template for `params` (its traffic class and identification are ignored: they are
// per packet). False, with `out` unusable, for the parameters encapsulate() rejects as
// invalid_argument (mixed PA families, an invalid VSID).
[[nodiscard]] inline bool make_outer_template(const EncapsulationParams& params,
                                              OuterTemplate& out) {
    if (params.source_pa.is_ipv6 != params.destination_pa.is_ipv6 || !is_valid_vsid(params.vsid))
        return false;
    EncapsulationParams fixed = params;
    fixed.traffic_class = 0;
    fixed.ipv4_identification = 0;
    out.ipv6 = params.source_pa.is_ipv6;
    out.size = static_cast<uint8_t>(out.ipv6 ? kOuterIpv6Overhead : kOuterIpv4Overhead);
    out.flow_id = params.flow_id;
    out.provider_mtu = params.provider_mtu;
    write_outer_headers(out.bytes.data(), fixed, 0);
    detail::describe_outer(out.headers, out.ipv6, 0, params.ttl,
                           nvgre_key(params.vsid, params.flow_id));
    // encapsulate()'s three size checks as one (exclusive) bound on the customer frame.
    const uint32_t ip_overhead = out.size - kEthernetHeaderSize;
    const uint32_t by_mtu =
        params.provider_mtu >= ip_overhead ? params.provider_mtu - ip_overhead + 1 : 0;
    const uint32_t by_ip_length = 0xFFFF - ip_overhead + 1;
    const uint32_t by_frame_length = 0xFFFF - out.size + 1;
    out.inner_limit = by_mtu < by_ip_length ? by_mtu : by_ip_length;
    out.inner_limit = out.inner_limit < by_frame_length ? out.inner_limit : by_frame_length;
    // outer_ipv4_checksum() of a zero length, traffic class and identification, uncomplemented
    // and unfolded: adding the per-packet words to it gives the sum of the real header.
    const uint8_t* source = params.source_pa.bytes.data();
    const uint8_t* destination = params.destination_pa.bytes.data();
    out.checksum_base = (0x45u << 8) + 0x4000u + (uint32_t{params.ttl} << 8 | ip_protocol::gre) +
                        load_be16(source) + load_be16(source + 2) + load_be16(destination) +
                        load_be16(destination + 2);
    return true;
}

// True if encapsulate_from() accepts a customer frame of `frame`'s size and headroom.
[[nodiscard, gnu::always_inline]] inline bool fits_template(const Frame& frame,
                                                            const OuterTemplate& t) {
    return frame.length < t.inner_limit && frame.offset >= t.size;
}

// encapsulate_from() of a frame that fits_template(): writes the outer headers.
[[gnu::always_inline]] inline void encapsulate_fitting(Frame& frame, const OuterTemplate& t,
                                                       uint8_t traffic_class,
                                                       uint16_t identification) {
    const uint32_t inner_length = frame.length;
    frame.offset -= t.size;
    frame.length = inner_length + t.size;
    uint8_t* p = frame.data();
    uint8_t* ip = p + kEthernetHeaderSize;
    if (t.ipv6) {
        __builtin_memcpy(p, t.bytes.data(), kOuterIpv6Overhead);
        store_be32(ip, 6u << 28 | uint32_t{traffic_class} << 20 | uint32_t{t.flow_id});
        store_be16(ip + 4, static_cast<uint16_t>(kGreHeaderSize + inner_length));
    } else {
        __builtin_memcpy(p, t.bytes.data(), kOuterIpv4Overhead);
        const uint32_t ip_packet = 20 + kGreHeaderSize + inner_length;
        uint32_t sum = t.checksum_base + traffic_class + ip_packet + identification;
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum += sum >> 16;
        ip[1] = traffic_class;
        store_be16(ip + 2, static_cast<uint16_t>(ip_packet));
        store_be16(ip + 4, identification);
        store_be16(ip + 10, static_cast<uint16_t>(~sum));
    }
    frame.headers = t.headers;
    frame.headers.l3_end = static_cast<uint16_t>(frame.length);
}

// encapsulate() for a frame of the template's flow: the same checks, the same errors, the same
// bytes and frame.headers as encapsulate() with the template's parameters and this packet's
// `traffic_class` and `identification`.
[[gnu::always_inline]] inline ErrorOr<void> encapsulate_from(Frame& frame, const OuterTemplate& t,
                                                             uint8_t traffic_class,
                                                             uint16_t identification) {
    if (!fits_template(frame, t)) [[unlikely]] {
        // Which check fails, in encapsulate()'s order.
        const uint32_t ip_packet = t.size - kEthernetHeaderSize + frame.length;
        if (ip_packet > t.provider_mtu || ip_packet > 0xFFFF)
            return Error(ErrorCode::out_of_range, "NVGRE packet would exceed the provider MTU");
        if (frame.length + t.size > 0xFFFF)
            return Error(ErrorCode::corrupt, "NVGRE frame would exceed 64 KiB");
        return Error(ErrorCode::out_of_memory, "frame has too little headroom for NVGRE");
    }
    encapsulate_fitting(frame, t, traffic_class, identification);
    return {};
}

// What a received NVGRE packet says, read from a frame parse_headers() has parsed. The outer
// addresses stay in the frame (outer_source()/outer_destination() read them): the packet path
// compares them more often than it needs them as NetAddress values.
struct NvgreView {
    bool outer_ipv6 = false;
    uint32_t outer_l3_offset = 0;
    Vsid vsid = 0;
    uint8_t flow_id = 0;
    uint32_t inner_offset = 0; // the customer frame, relative to frame.data()
    uint32_t inner_length = 0;

    [[nodiscard]] NetAddress outer_source(const uint8_t* data) const {
        return outer_ipv6 ? NetAddress::from_wire_v6(data + outer_l3_offset + 8)
                          : NetAddress::from_wire_v4(data + outer_l3_offset + 12);
    }
    [[nodiscard]] NetAddress outer_destination(const uint8_t* data) const {
        return outer_ipv6 ? NetAddress::from_wire_v6(data + outer_l3_offset + 24)
                          : NetAddress::from_wire_v4(data + outer_l3_offset + 16);
    }
};

enum class NvgreParse : uint8_t {
    not_nvgre, // not IP/GRE carrying Transparent Ethernet Bridging: someone else's traffic
    malformed, // claims to be NVGRE but breaks RFC 7637 (flags, version, key, truncation)
    ok,
};

// Inline: every frame from the provider network goes through it.
[[nodiscard, gnu::always_inline]] inline NvgreParse parse_nvgre(const Frame& frame,
                                                                NvgreView& view) {
    const ParsedHeaders& h = frame.headers;
    if (!h.has(parse_flag::parsed) || (h.l3 != L3Kind::ipv4 && h.l3 != L3Kind::ipv6) ||
        h.ip_protocol != ip_protocol::gre)
        return NvgreParse::not_nvgre;
    const uint32_t end = h.l3_end <= frame.length ? h.l3_end : frame.length;
    // A fragment carries a piece of a GRE packet we would have to reassemble; NVGRE senders set
    // DF, so a fragmented one is treated as broken rather than buffered.
    if (h.has(parse_flag::fragment) || h.has(parse_flag::more_fragments))
        return NvgreParse::malformed;
    const uint32_t gre = h.l4_offset;
    if (gre + 4 > end)
        return NvgreParse::malformed;
    uint32_t key;
    if (h.has(parse_flag::gre_key_only)) {
        // The parse read this GRE header and found exactly RFC 7637's flags: use what it read.
        if (h.gre_protocol != ethertype::transparent_ethernet)
            return NvgreParse::not_nvgre;
        if (gre + kGreHeaderSize > end)
            return NvgreParse::malformed;
        key = h.gre_key;
    } else {
        const uint8_t* data = frame.data();
        const uint16_t flags = load_be16(data + gre);
        const uint16_t protocol = load_be16(data + gre + 2);
        if (protocol != ethertype::transparent_ethernet)
            return NvgreParse::not_nvgre;
        // RFC 7637: C = 0, S = 0, K = 1, no routing, version 0; reserved bits zero.
        if (flags != kGreKeyFlag || gre + kGreHeaderSize > end)
            return NvgreParse::malformed;
        key = load_be32(data + gre + 4);
    }
    view.vsid = key >> 8;
    view.flow_id = static_cast<uint8_t>(key);
    view.inner_offset = gre + kGreHeaderSize;
    view.inner_length = end - view.inner_offset;
    if (view.inner_length < kEthernetHeaderSize)
        return NvgreParse::malformed;
    view.outer_ipv6 = h.l3 == L3Kind::ipv6;
    view.outer_l3_offset = h.l3_offset;
    return NvgreParse::ok;
}

// FlowID: 8 bits of entropy from the customer flow (addresses, protocol, ports) so that ECMP in
// the provider network keeps one flow on one path (RFC 7637 section 3.1).
[[nodiscard]] uint8_t flow_id_of(std::span<const uint8_t> customer_frame,
                                 const ParsedHeaders& headers);

} // namespace halcyon::vswitch::nvgre
