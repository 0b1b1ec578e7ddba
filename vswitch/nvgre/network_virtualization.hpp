// Hyper-V Network Virtualization in the switch pipeline (vswitch/core/hooks.hpp):
//
// From a VM port (frame.vsid = the port's virtual subnet), from_customer():
//   - ARP requests and IPv6 Neighbor Solicitations are answered from policy (the subnet's gateway
//     address gets the distributed router's MAC, any CA of the same routing domain gets its CA
//     MAC); unknown targets are dropped. Customer address resolution is never broadcast onto the
//     provider network.
//   - broadcast/multicast frames stay on local ports of the virtual subnet;
//   - unicast IP: the sender's CA must be in policy for its VSID, MAC and a local PA (anti-spoof);
//     the destination CA is looked up in the sender's routing domain; a destination in another
//     virtual subnet of that domain is routed (TTL decremented, source MAC = router MAC,
//     destination MAC = the CA's MAC, frame.vsid = the destination's VSID), never across
//     domains; then delivered locally if its PA is ours, else NVGRE-encapsulated to its PA.
// From the provider network (an external port), from_provider():
//   - NVGRE is decapsulated only if it is addressed to one of our PAs, its VSID is a known
//     virtual subnet, the inner destination CA is in policy for that VSID at that PA, and the
//     outer source PA is the one policy gives for the inner source CA; anything else is dropped
//     with a reason. Non-NVGRE traffic is left to the switch.
#pragma once

#include "vswitch/core/hooks.hpp"
#include "vswitch/nvgre/address_resolution.hpp"
#include "vswitch/nvgre/nvgre_header.hpp"
#include "vswitch/nvgre/policy_table.hpp"
#include "vswitch/packet/drop_reason.hpp"

#include <array>
#include <stdint.h>

namespace halcyon::vswitch::nvgre {

struct ProviderConfig {
    uint16_t vlan_id = 0;  // provider VLAN for encapsulated traffic (0 = untagged)
    uint32_t mtu = 1500;   // provider network MTU (outer IP packet)
    uint8_t ttl = 64;      // outer TTL / hop limit
    MacAddress router_mac; // the distributed router's MAC, as VMs see their default gateway
    MacAddress default_next_hop_mac; // provider gateway for PAs without a neighbor entry
    bool has_default_next_hop = false;
};

struct NvgreStatistics {
    uint64_t encapsulated = 0;
    uint64_t decapsulated = 0;
    uint64_t delivered_locally = 0; // CA traffic between VMs of this host (never left it)
    uint64_t routed = 0;            // crossed virtual subnets within a routing domain
    uint64_t arp_replies = 0;       // ARP replies and Neighbor Advertisements built from policy
    DropCounters drops;
};

inline constexpr uint32_t kMaxLocalProviderAddresses = 8;
inline constexpr uint32_t kMaxProviderNeighbors = 64;

class NetworkVirtualization final : public NvgreHook {
public:
    NetworkVirtualization(PolicyTable& policy, const ProviderConfig& config)
        : policy_(policy), config_(config) {}

    // A PA of this host and the MAC of the interface that owns it (the outer source MAC).
    [[nodiscard]] ErrorOr<void> add_local_provider_address(const NetAddress& address,
                                                           const MacAddress& mac);
    // The provider-network MAC to send to for a PA (a peer host on the same provider subnet).
    [[nodiscard]] ErrorOr<void> set_provider_neighbor(const NetAddress& address,
                                                      const MacAddress& mac);

    [[nodiscard]] NvgreResult from_provider(const HookContext& context, Frame& frame) override;
    [[nodiscard]] NvgreResult from_customer(const HookContext& context, Frame& frame) override;

    [[nodiscard]] const NvgreStatistics& statistics() const { return statistics_; }
    [[nodiscard]] const ProviderConfig& config() const { return config_; }

private:
    struct AddressMac {
        NetAddress address;
        MacAddress mac;
    };

    // Open-addressing index (linear probing, entries are never removed) over a fixed array of
    // AddressMac: every encapsulated packet looks up its source PA, its next hop and, decapsulated,
    // the outer destination, so these must not scan the arrays. Slot value 0 = empty, else the
    // entry index + 1. Twice the capacity keeps probe chains short even when full.
    template <uint32_t Capacity>
    struct AddressIndex {
        static constexpr uint32_t kSlots = Capacity * 2;
        static_assert((kSlots & (kSlots - 1)) == 0 && Capacity < 255);
        std::array<AddressMac, Capacity> entries{};
        std::array<uint8_t, kSlots> slots{};
        uint32_t count = 0;

        [[nodiscard]] const AddressMac* find(const NetAddress& address) const;
        // Adds or replaces; false when full.
        [[nodiscard]] bool set(const NetAddress& address, const MacAddress& mac);
    };

    [[nodiscard]] const AddressMac* local_pa(const NetAddress& address) const;
    [[nodiscard]] bool next_hop(const NetAddress& address, MacAddress& mac) const;
    [[nodiscard]] NvgreResult answer_resolution(const VirtualSubnet& subnet,
                                                const ResolutionRequest& request, Frame& frame);
    [[nodiscard]] NvgreResult drop(DropReason reason);

    PolicyTable& policy_;
    ProviderConfig config_;
    AddressIndex<kMaxLocalProviderAddresses> local_pas_;
    AddressIndex<kMaxProviderNeighbors> neighbors_;
    uint16_t next_ipv4_identification_ = 1;
    NvgreStatistics statistics_;
};

} // namespace halcyon::vswitch::nvgre
