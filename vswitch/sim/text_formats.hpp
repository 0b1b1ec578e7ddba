// Parsing of the textual forms operators write in vswitch-sim configurations: MAC addresses,
// IPv4/IPv6 addresses and prefixes, routing-domain GUIDs, port ranges and VLAN ranges. Each
// returns false on anything malformed (never a partial result the caller might use).
#pragma once

#include "vswitch/acl/acl_types.hpp"
#include "vswitch/nvgre/nvgre_types.hpp"
#include "vswitch/packet/bytes.hpp"

#include <string>
#include <string_view>

namespace halcyon::vswitch::sim {

// "02:00:5e:10:00:01" or "02-00-5E-10-00-01".
[[nodiscard]] bool parse_mac(std::string_view text, MacAddress& out);
[[nodiscard]] std::string format_mac(const MacAddress& mac);
// Dotted quad, exactly four decimal parts 0..255.
[[nodiscard]] bool parse_ipv4(std::string_view text, Ipv4Address& out);
// RFC 4291 text forms, including "::" compression and an embedded dotted quad.
[[nodiscard]] bool parse_ipv6(std::string_view text, Ipv6Address& out);
// Either family.
[[nodiscard]] bool parse_net_address(std::string_view text, nvgre::NetAddress& out);
// "10.0.0.0/24", "2001:db8::/32", or a bare address (a full-length prefix).
[[nodiscard]] bool parse_prefix(std::string_view text, acl::AddressFamily& family,
                                acl::IpAddress& address, uint8_t& prefix_length);
// "{11111111-2222-3333-4444-000000000000}" (braces optional): high = the first 16 hex digits as
// written, low = the last 16.
[[nodiscard]] bool parse_guid(std::string_view text, nvgre::RoutingDomainId& out);
// "80" or "1000-2000" (first <= last, both 0..65535).
[[nodiscard]] bool parse_range(std::string_view text, uint32_t max, uint32_t& first,
                               uint32_t& last);

} // namespace halcyon::vswitch::sim
