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
//
// With flow caches (set_flow_caches(), flow_cache.hpp) the decision for a unicast IPv4 customer
// frame or a received NVGRE packet carrying one is made once per flow and replayed for the rest of
// it: encapsulation becomes a copy of the flow's prebuilt outer headers plus a few patched fields.
// The caches are invalidated whenever the policy or the provider addresses change, and a cached
// decision is applied by the same code as a fresh one, so the result is the same with or without.
#pragma once

#include "vswitch/core/hooks.hpp"
#include "vswitch/nvgre/address_resolution.hpp"
#include "vswitch/nvgre/flow_cache.hpp"
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

    // Gives the packet path exact-match flow caches in caller memory (outliving this object),
    // one for frames from VMs and one for NVGRE packets received: each 0 entries (no cache) or a
    // power of two >= 4, sized for the flows in flight (an entry is ~130 / ~48 bytes). Replaces
    // (and forgets) any earlier caches.
    [[nodiscard]] ErrorOr<void> set_flow_caches(std::span<CustomerFlowEntry> customer,
                                                std::span<ProviderFlowEntry> provider);
    [[nodiscard]] const FlowCacheStatistics& flow_cache_statistics() const {
        return flow_statistics_;
    }

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

    // Drops every cached decision when the policy moved on since the last burst (one compare).
    void sync_with_policy() {
        if (policy_.generation() != policy_generation_) [[unlikely]] {
            policy_generation_ = policy_.generation();
            invalidate_flows();
        }
    }
    void invalidate_flows() {
        customer_flows_.invalidate_all();
        provider_flows_.invalidate_all();
        ++flow_statistics_.invalidations;
    }

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
    // The per-frame paths (datapath.cpp, datapath_provider.cpp), with the burst's memo.
    [[nodiscard, gnu::noinline]] NvgreResult customer_frame(Frame& frame, BurstMemo& memo);
    [[nodiscard, gnu::noinline]] NvgreResult provider_frame(Frame& frame, BurstMemo& memo);
    // The flow cache's fast path for a received packet: true if it decided (into `result`).
    [[nodiscard]] bool cached_provider_frame(Frame& frame, NvgreResult& result, uint64_t& hits);
    // What policy says about a unicast IP frame from a VM (frame untouched). For encapsulation,
    // `params` holds the outer headers' parameters (to build a CustomerFlow's outer headers from,
    // when the decision is to be cached).
    void decide_customer(const Frame& frame, BurstMemo& memo, CustomerDecision& decision,
                         EncapsulationParams& params) const;
    // The cached decision for `frame`, if it is cacheable and its flow is in the cache.
    [[nodiscard]] const CustomerFlow* cached_customer_flow(const Frame& frame);
    // Carries out a decision, fresh or cached, on a frame of its flow: encapsulating from
    // `outer` (a cached flow's), or from `direct` with encapsulate() (a decision not cached).
    [[nodiscard]] NvgreResult apply_customer(Frame& frame, const CustomerDecision& decision,
                                             const OuterTemplate* outer,
                                             EncapsulationParams* direct);
    [[nodiscard]] NvgreResult encapsulate_flow(Frame& frame, const CustomerDecision& decision,
                                               const OuterTemplate& outer);
    // (`params` in place, not a copy: a copy of a struct just written field by field would
    // stall on store forwarding.)
    [[nodiscard]] NvgreResult encapsulate_direct(Frame& frame, EncapsulationParams& params);
    [[nodiscard]] bool encapsulate_cached(Frame& frame, const CustomerFlow& flow,
                                          NvgreResult& result);
    // What policy says about a received NVGRE packet whose inner frame parsed as `inner`
    // (`inner_parsed` false: it did not parse), and carrying it out.
    [[nodiscard]] ProviderFlow decide_provider(const Frame& frame, const NvgreView& view,
                                               bool inner_parsed, const ParsedHeaders& inner,
                                               BurstMemo& memo) const;
    [[nodiscard]] NvgreResult apply_provider(Frame& frame, const NvgreView& view,
                                             const ParsedHeaders& inner, const ProviderFlow& flow);
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
    FlowCache<CustomerFlow> customer_flows_;
    FlowCache<ProviderFlow> provider_flows_;
    uint64_t policy_generation_ = 0; // the policy's generation the caches were filled under
    FlowCacheStatistics flow_statistics_;
};

} // namespace halcyon::vswitch::nvgre
