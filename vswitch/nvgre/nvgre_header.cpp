#include "vswitch/nvgre/nvgre_header.hpp"

#include "vswitch/packet/checksum.hpp"
#include "vswitch/packet/protocols.hpp"

namespace halcyon::vswitch::nvgre {

namespace {

// The outer IPv4 header's checksum from its field values (RFC 1071 sum of the ten 16-bit words),
// without reading the header back.
[[nodiscard]] uint16_t outer_ipv4_checksum(const EncapsulationParams& params, uint32_t length) {
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
void describe_outer(ParsedHeaders& h, bool v6, uint32_t frame_length, uint8_t ttl, uint32_t key) {
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

} // namespace

ErrorOr<void> encapsulate(Frame& frame, const EncapsulationParams& params) {
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
                               outer_ipv4_checksum(params, ip_packet));
        __builtin_memcpy(ip + 12, params.source_pa.bytes.data(), 4);
        __builtin_memcpy(ip + 16, params.destination_pa.bytes.data(), 4);
    }
    uint8_t* gre = ip + ip_header;
    const uint32_t key = nvgre_key(params.vsid, params.flow_id);
    // K only, version 0; Transparent Ethernet Bridging; the key.
    store_be32(gre, uint32_t{kGreKeyFlag} << 16 | ethertype::transparent_ethernet);
    store_be32(gre + 4, key);
    describe_outer(frame.headers, v6, frame.length, params.ttl, key);
    return {};
}

NvgreParse parse_nvgre(const Frame& frame, NvgreView& view) {
    const ParsedHeaders& h = frame.headers;
    if (!h.has(parse_flag::parsed) || (h.l3 != L3Kind::ipv4 && h.l3 != L3Kind::ipv6) ||
        h.ip_protocol != ip_protocol::gre)
        return NvgreParse::not_nvgre;
    const uint8_t* data = frame.data();
    const uint32_t end = h.l3_end <= frame.length ? h.l3_end : frame.length;
    // A fragment carries a piece of a GRE packet we would have to reassemble; NVGRE senders set
    // DF, so a fragmented one is treated as broken rather than buffered.
    if (h.has(parse_flag::fragment) || h.has(parse_flag::more_fragments))
        return NvgreParse::malformed;
    const uint32_t gre = h.l4_offset;
    if (gre + 4 > end)
        return NvgreParse::malformed;
    const uint16_t flags = load_be16(data + gre);
    const uint16_t protocol = load_be16(data + gre + 2);
    if (protocol != ethertype::transparent_ethernet)
        return NvgreParse::not_nvgre;
    // RFC 7637: C = 0, S = 0, K = 1, no routing, version 0; reserved bits zero.
    if (flags != kGreKeyFlag || gre + kGreHeaderSize > end)
        return NvgreParse::malformed;
    const uint32_t key = load_be32(data + gre + 4);
    view.vsid = key >> 8;
    view.flow_id = static_cast<uint8_t>(key);
    view.inner_offset = gre + kGreHeaderSize;
    view.inner_length = end - view.inner_offset;
    if (view.inner_length < kEthernetHeaderSize)
        return NvgreParse::malformed;
    if (h.l3 == L3Kind::ipv4) {
        view.outer_source = NetAddress::from_wire_v4(data + h.l3_offset + 12);
        view.outer_destination = NetAddress::from_wire_v4(data + h.l3_offset + 16);
    } else {
        view.outer_source = NetAddress::from_wire_v6(data + h.l3_offset + 8);
        view.outer_destination = NetAddress::from_wire_v6(data + h.l3_offset + 24);
    }
    return NvgreParse::ok;
}

uint8_t flow_id_of(std::span<const uint8_t> customer_frame, const ParsedHeaders& headers) {
    // The flow's identifying fields as big-endian words (the same on every host), each spread by
    // an odd multiplier and summed; the top byte of the sum's final mix is the id.
    constexpr uint64_t k1 = 0x9E3779B97F4A7C15ull;
    constexpr uint64_t k2 = 0xC2B2AE3D27D4EB4Full;
    const uint8_t* data = customer_frame.data();
    const uint32_t size = static_cast<uint32_t>(customer_frame.size());
    const auto word = [](const uint8_t* p) {
        return uint64_t{load_be32(p)} << 32 | load_be32(p + 4);
    };
    const uint8_t protocol = headers.ip_protocol;
    uint64_t hash = protocol;
    if (headers.l3 == L3Kind::ipv4 && headers.l3_offset + 20u <= size) {
        hash += word(data + headers.l3_offset + 12) * k1; // source and destination address
    } else if (headers.l3 == L3Kind::ipv6 && headers.l3_offset + 40u <= size) {
        const uint8_t* addresses = data + headers.l3_offset + 8;
        hash += (word(addresses) ^ word(addresses + 16)) * k1;
        hash += (word(addresses + 8) ^ word(addresses + 24)) * k2;
    } else if (size >= 12) {
        hash += word(data) * k1 + uint64_t{load_be32(data + 8)} * k2; // non-IP: the MAC pair
    }
    if (headers.has(parse_flag::has_l4) &&
        (protocol == ip_protocol::tcp || protocol == ip_protocol::udp))
        hash += (uint64_t{headers.src_port} << 16 | headers.dst_port) * k2;
    hash ^= hash >> 29;
    hash *= k1;
    return static_cast<uint8_t>(hash >> 56);
}

} // namespace halcyon::vswitch::nvgre
