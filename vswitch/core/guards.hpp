// The port protection checks on what a port sends: MAC spoofing, ARP spoofing, IPv6 Neighbor
// Discovery spoofing, DHCP guard and router guard. Pure functions of the port's configuration and
// the parsed frame (VLAN tag already stripped); every field read is bounds-checked against the
// parsed header extents.
#pragma once

#include "vswitch/core/port_config.hpp"
#include "vswitch/packet/drop_reason.hpp"
#include "vswitch/packet/frame.hpp"

namespace halcyon::vswitch {

struct GuardVerdict {
    bool pass = true;
    DropReason reason = DropReason::mac_spoof;
};

[[nodiscard]] GuardVerdict check_protection(const ProtectionConfig& config, const Frame& frame);

// Individual checks (exposed for tests and for components that want the same rules).
[[nodiscard]] bool arp_is_spoofed(const ProtectionConfig& config, const Frame& frame);
[[nodiscard]] bool nd_is_spoofed(const ProtectionConfig& config, const Frame& frame);
[[nodiscard]] bool is_dhcp_server_message(const Frame& frame);
[[nodiscard]] bool is_router_message(const Frame& frame);

} // namespace halcyon::vswitch
