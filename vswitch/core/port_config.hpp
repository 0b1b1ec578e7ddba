// How a switch and its ports are configured: switch type, port kind, VLAN/PVLAN mode, protection
// (spoofing guards, DHCP/router guard, storm limits) and NVGRE virtual subnet. Plain data, checked
// by Switch::add_port / configure_port.
#pragma once

#include "vswitch/core/vlan_set.hpp"
#include "vswitch/packet/bytes.hpp"

#include <array>
#include <stdint.h>

namespace halcyon::vswitch {

// The seeds' three switch types: external (bound to a physical NIC, VMs + optionally the host),
// internal (VMs and the host, no NIC), private (VMs only).
enum class SwitchType : uint8_t { external, internal, private_network };

enum class PortKind : uint8_t {
    external, // the physical NIC uplink
    internal, // the management partition's (host's) vNIC
    vm,       // a VM's synthetic NIC
};

enum class VlanMode : uint8_t {
    access,       // untagged on the wire; frames belong to access_vlan (0 = the untagged network)
    trunk,        // tagged for allowed_vlans; untagged frames belong to native_vlan
    private_vlan, // untagged on the wire; membership from the PVLAN settings below
};

enum class PvlanMode : uint8_t { isolated, community, promiscuous };

struct VlanConfig {
    VlanMode mode = VlanMode::access;
    uint16_t access_vlan = 0;
    VlanSet allowed_vlans;    // trunk
    uint16_t native_vlan = 0; // trunk: untagged frames; 0 = untagged frames are dropped
    // private_vlan: isolated/community ports have one secondary VLAN; promiscuous ports talk to
    // the primary and every secondary in promiscuous_secondaries.
    PvlanMode pvlan_mode = PvlanMode::isolated;
    uint16_t primary_vlan = 0;
    uint16_t secondary_vlan = 0;
    VlanSet promiscuous_secondaries;
};

inline constexpr uint32_t kMaxPortMacs = 4;
inline constexpr uint32_t kMaxPortIpv4 = 8;
inline constexpr uint32_t kMaxPortIpv6 = 8;

struct ProtectionConfig {
    // MAC spoofing protection ON means only `macs` may appear as a source address. (Hyper-V's
    // MacAddressSpoofing=Off is this flag set.)
    bool mac_spoofing_guard = false;
    // ARP / ND spoofing guard: ARP and Neighbor Discovery from the port must name one of its own
    // addresses (ipv4 / ipv6) and MACs.
    bool arp_guard = false;
    bool nd_guard = false;
    // DHCP guard ON: DHCP server messages from this port are dropped (the port is not a DHCP
    // server). Router guard ON: router advertisements and redirects from this port are dropped.
    bool dhcp_guard = false;
    bool router_guard = false;
    std::array<MacAddress, kMaxPortMacs> macs{};
    uint8_t mac_count = 0;
    std::array<Ipv4Address, kMaxPortIpv4> ipv4{};
    uint8_t ipv4_count = 0;
    std::array<Ipv6Address, kMaxPortIpv6> ipv6{};
    uint8_t ipv6_count = 0;

    [[nodiscard]] bool any_guard() const {
        return mac_spoofing_guard || arp_guard || nd_guard || dhcp_guard || router_guard;
    }
    [[nodiscard]] bool owns_mac(const MacAddress& mac) const {
        for (uint32_t i = 0; i < mac_count && i < kMaxPortMacs; ++i)
            if (macs[i] == mac)
                return true;
        return false;
    }
    [[nodiscard]] bool owns_ipv4(Ipv4Address address) const {
        for (uint32_t i = 0; i < ipv4_count && i < kMaxPortIpv4; ++i)
            if (ipv4[i] == address)
                return true;
        return false;
    }
    [[nodiscard]] bool owns_ipv6(const Ipv6Address& address) const {
        for (uint32_t i = 0; i < ipv6_count && i < kMaxPortIpv6; ++i)
            if (ipv6[i] == address)
                return true;
        return false;
    }
};

// Broadcast and multicast storm limits: token buckets in packets per second, per port, on what the
// port sends. 0 = unlimited.
struct StormConfig {
    uint32_t broadcast_pps = 0;
    uint32_t broadcast_burst = 0;
    uint32_t multicast_pps = 0;
    uint32_t multicast_burst = 0;
};

struct PortConfig {
    PortKind kind = PortKind::vm;
    bool enabled = true;
    uint32_t mtu = 1500; // IP MTU; the largest accepted frame is mtu + 14 (+4 per tag)
    VlanConfig vlan;
    ProtectionConfig protection;
    StormConfig storm;
    // NVGRE virtual subnet of a VM port (0 = not virtualized). A virtualized port is switched only
    // within its VSID; its VLAN config must be access VLAN 0.
    uint32_t vsid = 0;
};

} // namespace halcyon::vswitch
