#include "vswitch/core/guards.hpp"

#include "vswitch/packet/bytes.hpp"
#include "vswitch/packet/protocols.hpp"

namespace halcyon::vswitch {
namespace {

MacAddress source_mac(const Frame& frame) {
    return MacAddress::from(frame.data() + 6);
}

// A MAC the port may claim as its own: one of its assigned MACs when it has any, otherwise the
// frame's own source address (a port without a MAC list can at least not claim someone else's).
bool may_claim_mac(const ProtectionConfig& config, const Frame& frame, const MacAddress& mac) {
    if (config.mac_count > 0)
        return config.owns_mac(mac);
    return mac == source_mac(frame);
}

bool is_icmpv6(const Frame& frame) {
    const ParsedHeaders& h = frame.headers;
    return h.l3 == L3Kind::ipv6 && h.ip_protocol == ip_protocol::icmpv6 &&
           h.has(parse_flag::has_l4);
}

} // namespace

bool arp_is_spoofed(const ProtectionConfig& config, const Frame& frame) {
    const ParsedHeaders& h = frame.headers;
    if (h.l3 != L3Kind::arp)
        return false;
    // The parser guaranteed 28 bytes of Ethernet/IPv4 ARP at l3_offset.
    const uint8_t* arp = frame.data() + h.l3_offset;
    MacAddress sender_mac = MacAddress::from(arp + 8);
    Ipv4Address sender_ip = Ipv4Address::from(arp + 14);
    if (sender_mac != source_mac(frame) || !may_claim_mac(config, frame, sender_mac))
        return true;
    // 0.0.0.0 is an ARP probe (RFC 5227): it claims nothing, so it is allowed as a request.
    if (sender_ip.value == 0)
        return load_be16(arp + 6) != arp_operation::request;
    return !config.owns_ipv4(sender_ip);
}

bool nd_is_spoofed(const ProtectionConfig& config, const Frame& frame) {
    if (!is_icmpv6(frame))
        return false;
    const ParsedHeaders& h = frame.headers;
    uint8_t type = h.icmp_type;
    if (type != icmpv6_type::neighbor_solicitation && type != icmpv6_type::neighbor_advertisement)
        return false;
    const uint8_t* p = frame.data();
    Ipv6Address source = Ipv6Address::from(p + h.l3_offset + 8);
    uint32_t icmp = h.l4_offset;
    uint32_t end = h.l3_end;
    // NS and NA: 4 bytes ICMP header, 4 reserved/flags, 16 target address, then options.
    if (end - icmp < 24)
        return true;
    Ipv6Address target = Ipv6Address::from(p + icmp + 8);
    if (type == icmpv6_type::neighbor_solicitation) {
        // Duplicate address detection sends from :: and claims nothing yet.
        if (!source.is_unspecified() && !config.owns_ipv6(source))
            return true;
    } else {
        // An advertisement claims the target address: it must be the port's own.
        if (!config.owns_ipv6(target))
            return true;
        if (!source.is_unspecified() && !config.owns_ipv6(source))
            return true;
    }
    // Link-layer address options (source LLA in NS, target LLA in NA) bind an address to a MAC.
    for (uint32_t cursor = icmp + 24; cursor < end;) {
        if (end - cursor < 2)
            return true;
        uint32_t option_length = p[cursor + 1] * 8u;
        if (option_length == 0 || option_length > end - cursor)
            return true; // RFC 4861: a zero-length option invalidates the message
        uint8_t option = p[cursor];
        if ((option == nd_option::source_link_layer_address ||
             option == nd_option::target_link_layer_address) &&
            option_length >= 8) {
            MacAddress claimed = MacAddress::from(p + cursor + 2);
            if (!may_claim_mac(config, frame, claimed))
                return true;
        }
        cursor += option_length;
    }
    return false;
}

bool is_dhcp_server_message(const Frame& frame) {
    const ParsedHeaders& h = frame.headers;
    if (h.ip_protocol != ip_protocol::udp || !h.has(parse_flag::has_l4))
        return false;
    if (h.l3 == L3Kind::ipv4)
        // Servers (and relays speaking for them) send from port 67.
        return h.src_port == udp_port::dhcpv4_server;
    if (h.l3 != L3Kind::ipv6)
        return false;
    // Only servers and relays send to a client's port 546.
    if (h.dst_port == udp_port::dhcpv6_client)
        return true;
    if (h.src_port != udp_port::dhcpv6_server || h.payload_offset >= h.l3_end)
        return false;
    uint8_t message = frame.data()[h.payload_offset];
    return message == dhcpv6_message::advertise || message == dhcpv6_message::reply ||
           message == dhcpv6_message::reconfigure || message == dhcpv6_message::relay_reply;
}

bool is_router_message(const Frame& frame) {
    const ParsedHeaders& h = frame.headers;
    if (!h.has(parse_flag::has_l4))
        return false;
    if (h.l3 == L3Kind::ipv4 && h.ip_protocol == ip_protocol::icmp)
        return h.icmp_type == icmpv4_type::redirect ||
               h.icmp_type == icmpv4_type::router_advertisement;
    if (is_icmpv6(frame))
        return h.icmp_type == icmpv6_type::router_advertisement ||
               h.icmp_type == icmpv6_type::redirect;
    return false;
}

GuardVerdict check_protection(const ProtectionConfig& config, const Frame& frame) {
    if (config.mac_spoofing_guard && !config.owns_mac(source_mac(frame)))
        return {false, DropReason::mac_spoof};
    if (config.arp_guard && arp_is_spoofed(config, frame))
        return {false, DropReason::arp_spoof};
    if (config.nd_guard && nd_is_spoofed(config, frame))
        return {false, DropReason::nd_spoof};
    if (config.dhcp_guard && is_dhcp_server_message(frame))
        return {false, DropReason::dhcp_guard};
    if (config.router_guard && is_router_message(frame))
        return {false, DropReason::router_guard};
    return {};
}

} // namespace halcyon::vswitch
