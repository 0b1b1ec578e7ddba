#include "vswitch/nvgre/address_resolution.hpp"

#include "vswitch/packet/checksum.hpp"
#include "vswitch/packet/protocols.hpp"

namespace halcyon::vswitch::nvgre {

namespace {

constexpr uint32_t kArpPacketSize = 28;          // Ethernet/IPv4 ARP
constexpr uint32_t kNeighborMessageSize = 24;    // ICMPv6 header + reserved + target
constexpr uint32_t kAdvertisementFrameSize = 86; // Ethernet + IPv6 + NA + target LLA option
constexpr uint8_t kNeighborAdvertisementType = 136;
constexpr uint8_t kHopLimitNeighborDiscovery = 255; // RFC 4861: proves the sender is on-link

void write_mac(uint8_t* p, const MacAddress& mac) {
    for (int i = 0; i < 6; ++i)
        p[i] = mac.bytes[i];
}

[[nodiscard]] ResolutionKind read_arp(const Frame& frame, ResolutionRequest& request) {
    const ParsedHeaders& h = frame.headers;
    if (h.l3_offset + kArpPacketSize > frame.length)
        return ResolutionKind::malformed;
    const uint8_t* arp = frame.data() + h.l3_offset;
    if (load_be16(arp) != 1 || load_be16(arp + 2) != ethertype::ipv4 || arp[4] != 6 || arp[5] != 4)
        return ResolutionKind::malformed;
    request.requester_mac = MacAddress::from(arp + 8);
    request.requester_address = NetAddress::from_wire_v4(arp + 14);
    request.target = NetAddress::from_wire_v4(arp + 24);
    // Replies and gratuitous announcements (sender == target) need no answer.
    if (load_be16(arp + 6) != arp_operation::request || request.requester_address == request.target)
        return ResolutionKind::passthrough;
    return ResolutionKind::request;
}

[[nodiscard]] ResolutionKind read_solicitation(const Frame& frame, ResolutionRequest& request) {
    const ParsedHeaders& h = frame.headers;
    if (!h.has(parse_flag::has_l4) || h.icmp_type != icmpv6_type::neighbor_solicitation)
        return ResolutionKind::not_resolution;
    if (h.l4_offset + kNeighborMessageSize > h.l3_end || h.l3_end > frame.length)
        return ResolutionKind::malformed;
    const uint8_t* data = frame.data();
    if (h.ttl != kHopLimitNeighborDiscovery || h.icmp_code != 0)
        return ResolutionKind::malformed;
    request.requester_mac = MacAddress::from(data + 6);
    request.requester_address = NetAddress::from_wire_v6(data + h.l3_offset + 8);
    request.target = NetAddress::from_wire_v6(data + h.l4_offset + 8);
    // Duplicate address detection comes from the unspecified address; answering it would tell
    // the VM its own address is taken.
    NetAddress unspecified;
    unspecified.is_ipv6 = true;
    if (request.requester_address == unspecified)
        return ResolutionKind::passthrough;
    return ResolutionKind::request;
}

} // namespace

ResolutionKind read_resolution_request(const Frame& frame, ResolutionRequest& request) {
    const ParsedHeaders& h = frame.headers;
    if (!h.has(parse_flag::parsed))
        return ResolutionKind::not_resolution;
    if (h.l3 == L3Kind::arp)
        return read_arp(frame, request);
    if (h.l3 == L3Kind::ipv6 && h.ip_protocol == ip_protocol::icmpv6)
        return read_solicitation(frame, request);
    return ResolutionKind::not_resolution;
}

bool write_resolution_reply(Frame& frame, const ResolutionRequest& request,
                            const MacAddress& answer, bool is_router) {
    uint8_t* data = frame.data();
    if (!request.target.is_ipv6) {
        uint8_t* arp = data + frame.headers.l3_offset;
        write_mac(data, request.requester_mac);
        write_mac(data + 6, answer);
        store_be16(arp + 6, arp_operation::reply);
        write_mac(arp + 8, answer);
        write_mac(arp + 18, request.requester_mac);
        for (int i = 0; i < 4; ++i) {
            arp[14 + i] = request.target.bytes[i];
            arp[24 + i] = request.requester_address.bytes[i];
        }
        return true;
    }
    // Build the Neighbor Advertisement from scratch over the solicitation.
    if (!frame.set_length(kAdvertisementFrameSize))
        return false;
    write_mac(data, request.requester_mac);
    write_mac(data + 6, answer);
    store_be16(data + 12, ethertype::ipv6);
    uint8_t* ip = data + 14;
    store_be32(ip, 6u << 28);
    store_be16(ip + 4, 32);
    ip[6] = ip_protocol::icmpv6;
    ip[7] = kHopLimitNeighborDiscovery;
    for (int i = 0; i < 16; ++i) {
        ip[8 + i] = request.target.bytes[i];
        ip[24 + i] = request.requester_address.bytes[i];
    }
    uint8_t* icmp = ip + 40;
    icmp[0] = kNeighborAdvertisementType;
    icmp[1] = 0;
    store_be16(icmp + 2, 0);
    // Flags: Router (gateway only), Solicited, Override.
    store_be32(icmp + 4, (is_router ? 0x80000000u : 0) | 0x40000000u | 0x20000000u);
    for (int i = 0; i < 16; ++i)
        icmp[8 + i] = request.target.bytes[i];
    icmp[24] = nd_option::target_link_layer_address;
    icmp[25] = 1; // length in units of 8 bytes
    write_mac(icmp + 26, answer);
    Ipv6Address source, destination;
    for (int i = 0; i < 16; ++i) {
        source.bytes[i] = request.target.bytes[i];
        destination.bytes[i] = request.requester_address.bytes[i];
    }
    const uint32_t pseudo = pseudo_header_ipv6(source, destination, ip_protocol::icmpv6, 32);
    store_be16(icmp + 2, l4_checksum(pseudo, {icmp, 32}, false));
    return true;
}

} // namespace halcyon::vswitch::nvgre
