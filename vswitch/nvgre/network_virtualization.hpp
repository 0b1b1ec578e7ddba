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
#include "vswitch/nvgre/provider_index.hpp"
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
    // Burst forms: lookups shared by the burst's frames (the virtual subnet, the sender's and the
    // peer's records, provider addresses) are made once per run of frames that share them.
    void from_provider_burst(const HookContext& context, Frame* const* frames, uint32_t count,
                             NvgreResult* results) override;
    void from_customer_burst(const HookContext& context, Frame* const* frames, uint32_t count,
                             NvgreResult* results) override;

    [[nodiscard]] const NvgreStatistics& statistics() const { return statistics_; }
    [[nodiscard]] const ProviderConfig& config() const { return config_; }

private:
    // A customer address looked up in one routing domain, and (once asked) what the provider
    // index says about the record's PA.
    struct RecordMemo {
        bool valid = false;
        const VirtualSubnet* subnet = nullptr; // whose routing domain was searched
        NetAddress customer_address;
        const LookupRecord* record = nullptr;
        bool provider_known = false;
        const ProviderEntry* provider = nullptr; // the record's PA in providers_, if there
    };
    // The answers the frames of one burst tend to share, each the last one looked up. Valid for
    // one burst only: the policy and the provider index do not change while the switch runs it.
    struct BurstMemo {
        bool subnet_valid = false;
        Vsid vsid = 0;
        const VirtualSubnet* subnet = nullptr;
        uint64_t domain_hash = 0; // PolicyTable::domain_hash() of subnet's routing domain
        RecordMemo sender;
        RecordMemo peer;
        bool outer_valid = false;
        NetAddress outer_destination; // of a received NVGRE packet, with its local PA entry
        const ProviderEntry* outer_local = nullptr;
    };

    [[nodiscard]] const ProviderEntry* local_pa(const NetAddress& address) const {
        return providers_.find_local(address);
    }
    // The outer destination MAC for a PA: its neighbour entry, else the default next hop.
    [[nodiscard]] bool next_hop(const ProviderEntry* entry, MacAddress& mac) const {
        if (entry != nullptr && entry->neighbor) {
            mac = entry->neighbor_mac;
            return true;
        }
        if (!config_.has_default_next_hop)
            return false;
        mac = config_.default_next_hop_mac;
        return true;
    }
    [[nodiscard]] NvgreResult answer_resolution(const VirtualSubnet& subnet,
                                                const ResolutionRequest& request, Frame& frame);
    [[nodiscard]] NvgreResult drop(DropReason reason);
    // The per-frame decisions (datapath.cpp), with the burst's memo.
    [[nodiscard]] NvgreResult customer_frame(Frame& frame, BurstMemo& memo);
    [[nodiscard]] NvgreResult provider_frame(Frame& frame, BurstMemo& memo);
    [[nodiscard]] NvgreResult encapsulate_to(Frame& frame, const LookupRecord& source,
                                             const ProviderEntry& own, const LookupRecord& peer,
                                             const MacAddress& next_hop_mac);
    [[nodiscard]] const VirtualSubnet* subnet_of(BurstMemo& memo, Vsid vsid) const;
    // The record of `address` in memo.subnet's routing domain (memo.subnet non-null), kept in
    // `record`.
    const LookupRecord* resolve(RecordMemo& record, const BurstMemo& memo,
                                const NetAddress& address) const;
    // The provider index entry of the resolved record's PA (nullptr if none).
    [[nodiscard]] const ProviderEntry* provider_of(RecordMemo& record) const;

    PolicyTable& policy_;
    ProviderConfig config_;
    ProviderIndex providers_;
    uint16_t next_ipv4_identification_ = 1;
    NvgreStatistics statistics_;
};

} // namespace halcyon::vswitch::nvgre
