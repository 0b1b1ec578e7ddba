// Protocol numbers the parser and the guards recognise (IEEE 802.1Q, IANA assignments).
#pragma once

#include <stdint.h>

namespace halcyon::vswitch {

inline constexpr uint32_t kEthernetHeaderSize = 14;
inline constexpr uint32_t kVlanTagSize = 4;
inline constexpr uint32_t kEthernetMinFrame = 60; // without FCS
inline constexpr uint16_t kMaxVlanId = 4094;      // 0 = priority tag only, 4095 reserved

namespace ethertype {
inline constexpr uint16_t ipv4 = 0x0800;
inline constexpr uint16_t arp = 0x0806;
inline constexpr uint16_t vlan = 0x8100;        // 802.1Q C-tag
inline constexpr uint16_t qinq = 0x88A8;        // 802.1ad S-tag
inline constexpr uint16_t qinq_legacy = 0x9100; // pre-standard S-tag, still seen on the wire
inline constexpr uint16_t ipv6 = 0x86DD;
inline constexpr uint16_t transparent_ethernet = 0x6558; // GRE payload of NVGRE (RFC 7637)
} // namespace ethertype

namespace ip_protocol {
inline constexpr uint8_t hop_by_hop = 0;
inline constexpr uint8_t icmp = 1;
inline constexpr uint8_t tcp = 6;
inline constexpr uint8_t udp = 17;
inline constexpr uint8_t ipv6_routing = 43;
inline constexpr uint8_t ipv6_fragment = 44;
inline constexpr uint8_t gre = 47;
inline constexpr uint8_t esp = 50;
inline constexpr uint8_t ah = 51;
inline constexpr uint8_t icmpv6 = 58;
inline constexpr uint8_t ipv6_no_next = 59;
inline constexpr uint8_t ipv6_destination_options = 60;
} // namespace ip_protocol

namespace icmpv4_type {
inline constexpr uint8_t echo_reply = 0;
inline constexpr uint8_t redirect = 5;
inline constexpr uint8_t echo_request = 8;
inline constexpr uint8_t router_advertisement = 9;
} // namespace icmpv4_type

namespace icmpv6_type {
inline constexpr uint8_t echo_request = 128;
inline constexpr uint8_t router_solicitation = 133;
inline constexpr uint8_t router_advertisement = 134;
inline constexpr uint8_t neighbor_solicitation = 135;
inline constexpr uint8_t neighbor_advertisement = 136;
inline constexpr uint8_t redirect = 137;
} // namespace icmpv6_type

namespace nd_option {
inline constexpr uint8_t source_link_layer_address = 1;
inline constexpr uint8_t target_link_layer_address = 2;
} // namespace nd_option

namespace udp_port {
inline constexpr uint16_t dhcpv4_server = 67;
inline constexpr uint16_t dhcpv4_client = 68;
inline constexpr uint16_t dhcpv6_client = 546;
inline constexpr uint16_t dhcpv6_server = 547;
} // namespace udp_port

namespace dhcpv6_message {
inline constexpr uint8_t advertise = 2;
inline constexpr uint8_t reply = 7;
inline constexpr uint8_t reconfigure = 10;
inline constexpr uint8_t relay_reply = 13;
} // namespace dhcpv6_message

namespace arp_operation {
inline constexpr uint16_t request = 1;
inline constexpr uint16_t reply = 2;
} // namespace arp_operation

// GRE header flag bits (RFC 2784 / RFC 2890), first 16-bit word.
namespace gre_flag {
inline constexpr uint16_t checksum = 0x8000;
inline constexpr uint16_t routing = 0x4000;
inline constexpr uint16_t key = 0x2000;
inline constexpr uint16_t sequence = 0x1000;
inline constexpr uint16_t version_mask = 0x0007;
} // namespace gre_flag

} // namespace halcyon::vswitch
