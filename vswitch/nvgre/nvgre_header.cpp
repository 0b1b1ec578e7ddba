#include "vswitch/nvgre/nvgre_header.hpp"

#include "vswitch/packet/checksum.hpp"
#include "vswitch/packet/protocols.hpp"

namespace halcyon::vswitch::nvgre {

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
    const uint32_t overhead = 14 + ip_header + kGreHeaderSize;
    if (!frame.push_front(overhead))
        return Error(ErrorCode::out_of_memory, "frame has too little headroom for NVGRE");

    uint8_t* p = frame.data();
    for (int i = 0; i < 6; ++i) {
        p[i] = params.outer_destination_mac.bytes[i];
        p[6 + i] = params.outer_source_mac.bytes[i];
    }
    store_be16(p + 12, v6 ? ethertype::ipv6 : ethertype::ipv4);
    uint8_t* ip = p + 14;
    if (v6) {
        // Version 6, traffic class, flow label from the FlowID so provider ECMP can use either.
        store_be32(ip, 6u << 28 | uint32_t{params.traffic_class} << 20 | uint32_t{params.flow_id});
        store_be16(ip + 4, static_cast<uint16_t>(kGreHeaderSize + (frame.length - overhead)));
        ip[6] = ip_protocol::gre;
        ip[7] = params.ttl;
        for (int i = 0; i < 16; ++i) {
            ip[8 + i] = params.source_pa.bytes[i];
            ip[24 + i] = params.destination_pa.bytes[i];
        }
    } else {
        ip[0] = 0x45;
        ip[1] = params.traffic_class;
        store_be16(ip + 2, static_cast<uint16_t>(ip_packet));
        store_be16(ip + 4, params.ipv4_identification);
        store_be16(ip + 6, 0x4000); // DF: the provider path must not fragment tenant traffic
        ip[8] = params.ttl;
        ip[9] = ip_protocol::gre;
        for (int i = 0; i < 4; ++i) {
            ip[12 + i] = params.source_pa.bytes[i];
            ip[16 + i] = params.destination_pa.bytes[i];
        }
        ipv4_set_header_checksum({ip, 20});
    }
    uint8_t* gre = ip + ip_header;
    store_be16(gre, kGreKeyFlag); // K only; version 0
    store_be16(gre + 2, ethertype::transparent_ethernet);
    store_be32(gre + 4, nvgre_key(params.vsid, params.flow_id));
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
    uint32_t hash = 2166136261u; // FNV-1a over the flow's identifying bytes
    auto add = [&hash](const uint8_t* bytes, uint32_t count) {
        for (uint32_t i = 0; i < count; ++i)
            hash = (hash ^ bytes[i]) * 16777619u;
    };
    const uint8_t* data = customer_frame.data();
    if (headers.l3 == L3Kind::ipv4 && headers.l3_offset + 20u <= customer_frame.size())
        add(data + headers.l3_offset + 12, 8);
    else if (headers.l3 == L3Kind::ipv6 && headers.l3_offset + 40u <= customer_frame.size())
        add(data + headers.l3_offset + 8, 32);
    else if (customer_frame.size() >= 12)
        add(data, 12); // non-IP: the MAC pair is the flow
    const uint8_t protocol = headers.ip_protocol;
    add(&protocol, 1);
    if (headers.has(parse_flag::has_l4) &&
        (protocol == ip_protocol::tcp || protocol == ip_protocol::udp)) {
        const uint8_t ports[4] = {
            static_cast<uint8_t>(headers.src_port >> 8), static_cast<uint8_t>(headers.src_port),
            static_cast<uint8_t>(headers.dst_port >> 8), static_cast<uint8_t>(headers.dst_port)};
        add(ports, 4);
    }
    return static_cast<uint8_t>(hash ^ hash >> 8 ^ hash >> 16 ^ hash >> 24);
}

} // namespace halcyon::vswitch::nvgre
