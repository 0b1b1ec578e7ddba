#include "vswitch/nvgre/nvgre_header.hpp"

#include "vswitch/packet/checksum.hpp"
#include "vswitch/packet/protocols.hpp"

namespace halcyon::vswitch::nvgre {

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
