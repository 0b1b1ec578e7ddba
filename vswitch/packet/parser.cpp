#include "vswitch/packet/parser.hpp"

#include "vswitch/packet/bytes.hpp"
#include "vswitch/packet/protocols.hpp"

namespace halcyon::vswitch {
namespace {

// Every frame of every burst goes through this parser once, so the layers are always-inline
// helpers that return the failure message (nullptr = fine) instead of nesting ErrorOr values: the
// whole parse of an Ethernet/IPv4/UDP frame is one function with no calls. The public functions
// wrap the message into an Error.

// The L4 header at `offset`, bounded by `end` (the end of the IP datagram).
[[gnu::always_inline]] inline const char* parse_l4(const uint8_t* p, uint32_t offset, uint32_t end,
                                                   ParsedHeaders& h) {
    const uint32_t available = end - offset;
    const uint8_t* l4 = p + offset;
    h.l4_offset = static_cast<uint16_t>(offset);
    switch (h.ip_protocol) {
    case ip_protocol::tcp: {
        if (available < 20)
            return "TCP header truncated";
        const uint32_t header_length = (l4[12] >> 4) * 4u;
        if (header_length < 20 || header_length > available)
            return "TCP data offset out of range";
        h.src_port = load_be16(l4);
        h.dst_port = load_be16(l4 + 2);
        h.tcp_flags = l4[13];
        h.payload_offset = static_cast<uint16_t>(offset + header_length);
        break;
    }
    case ip_protocol::udp: {
        if (available < 8)
            return "UDP header truncated";
        const uint32_t udp_length = load_be16(l4 + 4);
        if (udp_length < 8 || udp_length > available)
            return "UDP length out of range";
        h.src_port = load_be16(l4);
        h.dst_port = load_be16(l4 + 2);
        h.payload_offset = static_cast<uint16_t>(offset + 8);
        break;
    }
    case ip_protocol::icmp:
    case ip_protocol::icmpv6: {
        if (available < 8)
            return "ICMP header truncated";
        h.icmp_type = l4[0];
        h.icmp_code = l4[1];
        h.payload_offset = static_cast<uint16_t>(offset + 8);
        break;
    }
    case ip_protocol::gre: {
        if (available < 4)
            return "GRE header truncated";
        const uint16_t flags = load_be16(l4);
        // Only version 0 without the deprecated routing field is GRE as NVGRE uses it; anything
        // else (PPTP's version 1, RFC 1701 source routing) is left unparsed, not rejected.
        if ((flags & gre_flag::version_mask) != 0 || (flags & gre_flag::routing) != 0)
            return nullptr;
        uint32_t header_length = 4;
        if (flags & gre_flag::checksum)
            header_length += 4;
        const uint32_t key_offset = header_length;
        if (flags & gre_flag::key)
            header_length += 4;
        if (flags & gre_flag::sequence)
            header_length += 4;
        if (header_length > available)
            return "GRE header truncated";
        h.gre_protocol = load_be16(l4 + 2);
        h.flags |= parse_flag::gre;
        if (flags & gre_flag::checksum)
            h.flags |= parse_flag::gre_checksum;
        if (flags & gre_flag::key) {
            h.flags |= parse_flag::gre_key;
            h.gre_key = load_be32(l4 + key_offset);
        }
        if (flags & gre_flag::sequence)
            h.flags |= parse_flag::gre_sequence;
        if (flags == gre_flag::key)
            h.flags |= parse_flag::gre_key_only;
        h.payload_offset = static_cast<uint16_t>(offset + header_length);
        break;
    }
    default:
        return nullptr; // an L4 protocol we do not look into
    }
    h.flags |= parse_flag::has_l4;
    return nullptr;
}

[[gnu::always_inline]] inline const char* parse_ipv4(const uint8_t* p, uint32_t offset,
                                                     uint32_t length, ParsedHeaders& h) {
    const uint32_t available = length - offset;
    const uint8_t* ip = p + offset;
    if (available < 20)
        return "IPv4 header truncated";
    if ((ip[0] >> 4) != 4)
        return "IPv4 version is not 4";
    const uint32_t header_length = (ip[0] & 0x0F) * 4u;
    if (header_length < 20 || header_length > available)
        return "IPv4 header length out of range";
    const uint32_t total_length = load_be16(ip + 2);
    if (total_length < header_length || total_length > available)
        return "IPv4 total length out of range";
    if (header_length > 20)
        h.flags |= parse_flag::ipv4_options;
    h.ip_protocol = ip[9];
    h.ttl = ip[8];
    h.l3_end = static_cast<uint16_t>(offset + total_length);
    const uint16_t fragment = load_be16(ip + 6);
    if ((fragment & 0x1FFF) != 0) {
        // A later fragment carries no L4 header; whatever is at its start is payload.
        h.flags |= parse_flag::fragment;
        return nullptr;
    }
    if (fragment & 0x2000)
        h.flags |= parse_flag::more_fragments;
    return parse_l4(p, offset + header_length, offset + total_length, h);
}

// IPv6 is rarer on the switch's hot path than IPv4 and its extension-header walk is long, so it
// stays out of line.
[[gnu::noinline]] const char* parse_ipv6(const uint8_t* p, uint32_t offset, uint32_t length,
                                         ParsedHeaders& h) {
    const uint32_t available = length - offset;
    const uint8_t* ip = p + offset;
    if (available < 40)
        return "IPv6 header truncated";
    if ((ip[0] >> 4) != 6)
        return "IPv6 version is not 6";
    const uint32_t payload_length = load_be16(ip + 4);
    // A zero payload length means a jumbogram, which never fits in an Ethernet frame.
    if (payload_length == 0 && available > 40)
        return "IPv6 jumbogram on Ethernet";
    if (payload_length > available - 40)
        return "IPv6 payload length out of range";
    const uint32_t end = offset + 40 + payload_length;
    h.l3_end = static_cast<uint16_t>(end);
    h.ttl = ip[7];
    uint8_t next = ip[6];
    uint32_t cursor = offset + 40;
    for (uint32_t walked = 0;; ++walked) {
        switch (next) {
        case ip_protocol::hop_by_hop:
        case ip_protocol::ipv6_routing:
        case ip_protocol::ipv6_destination_options:
        case ip_protocol::ah:
        case ip_protocol::ipv6_fragment: {
            if (walked == kMaxIpv6ExtensionHeaders)
                return "too many IPv6 extension headers";
            if (end - cursor < 8)
                return "IPv6 extension header truncated";
            const uint8_t* ext = p + cursor;
            const uint32_t ext_length = next == ip_protocol::ah              ? (ext[1] + 2u) * 4u
                                        : next == ip_protocol::ipv6_fragment ? 8u
                                                                             : (ext[1] + 1u) * 8u;
            if (ext_length > end - cursor)
                return "IPv6 extension header truncated";
            h.flags |= parse_flag::ipv6_extensions;
            if (next == ip_protocol::ipv6_fragment) {
                const uint16_t fragment = load_be16(ext + 2);
                if ((fragment & 0xFFF8) != 0) {
                    h.ip_protocol = ext[0];
                    h.flags |= parse_flag::fragment;
                    return nullptr;
                }
                if (fragment & 1)
                    h.flags |= parse_flag::more_fragments;
            }
            next = ext[0];
            cursor += ext_length;
            continue;
        }
        case ip_protocol::esp:
            h.ip_protocol = next;
            h.flags |= parse_flag::ipv6_esp;
            return nullptr;
        case ip_protocol::ipv6_no_next:
            h.ip_protocol = next;
            return nullptr;
        default:
            h.ip_protocol = next;
            return parse_l4(p, cursor, end, h);
        }
    }
}

[[nodiscard]] constexpr bool is_vlan_tpid(uint16_t type) {
    return type == ethertype::vlan || type == ethertype::qinq || type == ethertype::qinq_legacy;
}

// The layer-by-layer parse of every kind of frame.
[[gnu::always_inline]] inline const char* parse_layers(const uint8_t* p, uint32_t length,
                                                       ParsedHeaders& h) {
    h = {};
    // Frames are at most 64 KiB so every offset fits the 16-bit fields.
    if (length > 0xFFFF)
        return "frame longer than 64 KiB";
    if (length < kEthernetHeaderSize)
        return "Ethernet header truncated";
    uint32_t cursor = 12;
    uint16_t type = load_be16(p + cursor);
    if (is_vlan_tpid(type)) [[unlikely]] {
        do {
            if (h.tag_count == 2)
                return "more than two VLAN tags";
            if (length - cursor < 2 + kVlanTagSize)
                return "VLAN tag truncated";
            const uint16_t tci = load_be16(p + cursor + 2);
            if (h.tag_count == 0) {
                h.outer_tpid = type;
                h.outer_tci = tci;
            } else {
                h.inner_tci = tci;
            }
            ++h.tag_count;
            cursor += kVlanTagSize;
            type = load_be16(p + cursor);
        } while (is_vlan_tpid(type));
        h.flags |= parse_flag::vlan_tagged;
        if (h.tag_count > 1)
            h.flags |= parse_flag::double_tagged;
    }
    h.ethertype = type;
    const uint32_t l3 = cursor + 2;
    h.l3_offset = static_cast<uint16_t>(l3);
    h.l3_end = static_cast<uint16_t>(length);
    h.flags |= parse_flag::parsed;
    switch (type) {
    case ethertype::ipv4:
        h.l3 = L3Kind::ipv4;
        return parse_ipv4(p, l3, length, h);
    case ethertype::arp: {
        h.l3 = L3Kind::arp;
        if (length - l3 < 28)
            return "ARP packet truncated";
        const uint8_t* arp = p + l3;
        // Only Ethernet/IPv4 ARP exists on this switch; anything else is treated as hostile.
        if (load_be16(arp) != 1 || load_be16(arp + 2) != ethertype::ipv4 || arp[4] != 6 ||
            arp[5] != 4)
            return "ARP is not Ethernet/IPv4";
        h.l3_end = static_cast<uint16_t>(l3 + 28);
        return nullptr;
    }
    case ethertype::ipv6:
        h.l3 = L3Kind::ipv6;
        return parse_ipv6(p, l3, length, h);
    default:
        h.l3 = L3Kind::other;
        return nullptr;
    }
}

[[gnu::always_inline]] inline const char* parse(const uint8_t* p, uint32_t length,
                                                ParsedHeaders& h) {
    if (parse_common_ipv4(p, length, h)) [[likely]]
        return nullptr;
    return parse_layers(p, length, h);
}

} // namespace

ErrorOr<void> parse_headers_layered(std::span<const uint8_t> bytes, ParsedHeaders& h) {
    const uint32_t length = bytes.size() > 0xFFFF ? 0x10000 : static_cast<uint32_t>(bytes.size());
    if (const char* failure = parse_layers(bytes.data(), length, h))
        return Error(ErrorCode::corrupt, failure);
    return {};
}

bool parse_frame_headers(const uint8_t* bytes, uint32_t length, ParsedHeaders& out) {
    return parse(bytes, length, out) == nullptr;
}

ErrorOr<void> parse_headers(std::span<const uint8_t> bytes, ParsedHeaders& h) {
    // A span longer than 4 GiB must not wrap the 32-bit length into something small.
    const uint32_t length = bytes.size() > 0xFFFF ? 0x10000 : static_cast<uint32_t>(bytes.size());
    if (const char* failure = parse(bytes.data(), length, h))
        return Error(ErrorCode::corrupt, failure);
    return {};
}

bool parse_frame_general(Frame& frame) {
    if (parse(frame.data(), frame.length, frame.headers) == nullptr)
        return true;
    frame.headers.flags &= static_cast<uint16_t>(~parse_flag::parsed);
    return false;
}

ErrorOr<void> parse_headers(Frame& frame) {
    if (const char* failure = parse(frame.data(), frame.length, frame.headers)) {
        frame.headers.flags &= static_cast<uint16_t>(~parse_flag::parsed);
        return Error(ErrorCode::corrupt, failure);
    }
    return {};
}

} // namespace halcyon::vswitch
