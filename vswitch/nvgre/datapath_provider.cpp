// NetworkVirtualization's packet path from the provider network: from_provider (decapsulation
// with VSID and CA/PA policy checks). The checks' verdict for a packet whose inner frame is
// unicast IPv4 over an IPv4 provider network depends only on its flow key (outer addresses, VSID,
// inner destination MAC, inner addresses), so with a flow cache it is looked up instead of
// decided; both ways it is carried out by apply_provider().
#include "vswitch/nvgre/datapath_util.hpp"
#include "vswitch/nvgre/network_virtualization.hpp"
#include "vswitch/packet/parser.hpp"

namespace halcyon::vswitch::nvgre {

using namespace datapath;

[[gnu::always_inline]] inline NvgreResult
NetworkVirtualization::apply_provider(Frame& frame, const NvgreView& view, const ParsedHeaders& h,
                                      const ProviderFlow& flow) {
    if (!flow.pass)
        return drop(flow.reason);
    // parse_nvgre() placed the customer frame inside this one (inner_offset + inner_length is at
    // most frame.length), so the frame shrinks to it without further checks.
    frame.offset += view.inner_offset;
    frame.length = view.inner_length;
    frame.vsid = view.vsid;
    frame.vlan_id = 0;
    frame.flow_id = view.flow_id;
    // The frame is now exactly the bytes just parsed as `h`: no second parse.
    frame.headers = h;
    ++statistics_.decapsulated;
    return {NvgreAction::forward_local, DropReason::nvgre_no_policy};
}

// Every received packet the flow cache does not decide: the NVGRE header, the inner frame's parse
// and, for a cacheable packet, the decision made and remembered.
NvgreResult NetworkVirtualization::provider_frame(Frame& frame, BurstMemo& memo) {
    NvgreView view;
    switch (parse_nvgre(frame, view)) {
    case NvgreParse::not_nvgre:
        return {NvgreAction::not_nvgre, DropReason::nvgre_no_policy};
    case NvgreParse::malformed:
        return drop(DropReason::nvgre_malformed);
    case NvgreParse::ok:
        break;
    }
    const uint8_t* inner = frame.data() + view.inner_offset;
    ParsedHeaders h;
    const bool parsed = parse_common_ipv4(inner, view.inner_length, h) ||
                        parse_frame_headers(inner, view.inner_length, h);
    if (parsed && provider_flows_.enabled() && !view.outer_ipv6 && h.l3 == L3Kind::ipv4 &&
        (inner[0] & 1) == 0) {
        const FlowKey key = provider_flow_key(frame.data(), view, h);
        const uint64_t hash = key.hash();
        if (const ProviderFlow* cached = provider_flows_.find(key, hash)) {
            ++flow_statistics_.hits;
            return apply_provider(frame, view, h, *cached);
        }
        ++flow_statistics_.misses;
        const ProviderFlow flow = decide_provider(frame, view, parsed, h, memo);
        provider_flows_.insert(key, hash, flow);
        return apply_provider(frame, view, h, flow);
    }
    return apply_provider(frame, view, h, decide_provider(frame, view, parsed, h, memo));
}

// The common case, inline in the burst loop: NVGRE over IPv4 as parse_common_ipv4() parses it
// (GRE with exactly the K bit) carrying a unicast IPv4 frame the one-pass parse accepts, whose
// flow is in the cache with a verdict to decapsulate. Exactly what provider_frame() does for such
// a packet — the same checks of the NVGRE header as parse_nvgre(), the same key — without the
// general cases. The flow is looked up first (the addresses sit at fixed offsets once the inner
// frame is IPv4 without options), and the inner frame is parsed straight into frame.headers only
// then: parse_common_ipv4() writes nothing when it refuses a frame, so a refused one still has
// its outer description for provider_frame(). False (nothing done) for any other packet. Each
// packet decapsulated here counts in `hits` (the caller adds them to the statistics: a cache
// hit and a decapsulation each).
[[gnu::always_inline]] inline bool
NetworkVirtualization::cached_provider_frame(Frame& frame, NvgreResult& result, uint64_t& hits) {
    const ParsedHeaders& outer = frame.headers;
    constexpr uint16_t wanted = parse_flag::parsed | parse_flag::gre_key_only;
    constexpr uint16_t examined = wanted | parse_flag::fragment | parse_flag::more_fragments;
    if ((outer.flags & examined) != wanted || outer.l3 != L3Kind::ipv4 ||
        outer.ip_protocol != ip_protocol::gre ||
        outer.gre_protocol != ethertype::transparent_ethernet)
        return false;
    const uint32_t end = outer.l3_end <= frame.length ? outer.l3_end : frame.length;
    const uint32_t inner_offset = outer.l4_offset + kGreHeaderSize;
    // An inner IPv4 header without options, complete: the one-pass parse's shape.
    if (inner_offset + kEthernetHeaderSize + 20 > end)
        return false;
    const uint32_t inner_length = end - inner_offset;
    const uint8_t* data = frame.data();
    const uint8_t* inner = data + inner_offset;
    if ((inner[0] & 1) != 0 || load_be16(inner + 12) != ethertype::ipv4 ||
        inner[kEthernetHeaderSize] != 0x45)
        return false;
    const uint32_t gre_key = outer.gre_key;
    FlowKey key;
    key.words[0] = load_u64(data + outer.l3_offset + 12);
    key.words[1] = load_u64(inner + kEthernetHeaderSize + 12);
    key.words[2] = load_u64(inner) & kLow48;
    key.words[3] = gre_key >> 8;
    const ProviderFlow* flow = provider_flows_.find(key, key.hash());
    if (flow == nullptr || !flow->pass || !parse_common_ipv4(inner, inner_length, frame.headers))
        return false;
    ++hits;
    frame.offset += inner_offset;
    frame.length = inner_length;
    frame.vsid = gre_key >> 8;
    frame.vlan_id = 0;
    frame.flow_id = gre_key & 0xFF;
    result = {NvgreAction::forward_local, DropReason::nvgre_no_policy};
    return true;
}

NvgreResult NetworkVirtualization::from_provider(const HookContext& context, Frame& frame) {
    (void)context;
    sync_with_policy();
    NvgreResult result;
    uint64_t hits = 0;
    if (provider_flows_.enabled() && cached_provider_frame(frame, result, hits)) {
        flow_statistics_.hits += hits;
        statistics_.decapsulated += hits;
        return result;
    }
    BurstMemo memo;
    return provider_frame(frame, memo);
}

void NetworkVirtualization::from_provider_burst(const HookContext& context, Frame* const* frames,
                                                uint32_t count, NvgreResult* results) {
    (void)context;
    sync_with_policy();
    BurstMemo memo;
    if (!provider_flows_.enabled()) {
        for (uint32_t i = 0; i < count; ++i)
            results[i] = provider_frame(*frames[i], memo);
        return;
    }
    uint64_t hits = 0;
    for (uint32_t i = 0; i < count; ++i)
        if (!cached_provider_frame(*frames[i], results[i], hits))
            results[i] = provider_frame(*frames[i], memo);
    flow_statistics_.hits += hits;
    statistics_.decapsulated += hits;
}

ProviderFlow NetworkVirtualization::decide_provider(const Frame& frame, const NvgreView& view,
                                                    bool inner_parsed, const ParsedHeaders& h,
                                                    BurstMemo& memo) const {
    const auto refuse = [](DropReason reason) { return ProviderFlow{false, reason}; };
    const uint8_t* data = frame.data();
    const NetAddress outer_destination = view.outer_destination(data);
    if (!memo.outer_valid || !(memo.outer_destination == outer_destination)) {
        memo.outer_valid = true;
        memo.outer_destination = outer_destination;
        memo.outer_local = local_pa(outer_destination);
    }
    if (!memo.outer_local)
        return refuse(DropReason::nvgre_not_provider_address);
    const VirtualSubnet* subnet = is_valid_vsid(view.vsid) ? subnet_of(memo, view.vsid) : nullptr;
    if (!subnet)
        return refuse(DropReason::nvgre_bad_vsid);
    if (!inner_parsed)
        return refuse(DropReason::nvgre_malformed);
    // Only unicast IP crosses the provider network: both ends answer ARP from policy, and
    // broadcast is never sent onto it, so anything else is not in policy.
    const uint8_t* inner = data + view.inner_offset;
    const MacAddress inner_destination_mac = MacAddress::from(inner);
    if (!is_ip(h) || inner_destination_mac.is_multicast())
        return refuse(DropReason::nvgre_no_policy);
    const LookupRecord* destination = resolve(memo.peer, memo, destination_ip(inner, h));
    if (!destination || destination->vsid != view.vsid ||
        !(destination->provider_address == outer_destination) ||
        !(destination->customer_mac == inner_destination_mac))
        return refuse(DropReason::nvgre_no_policy);
    const LookupRecord* source = resolve(memo.sender, memo, source_ip(inner, h));
    if (!source || !(source->provider_address == view.outer_source(data)))
        return refuse(DropReason::nvgre_no_policy);
    return ProviderFlow{true, DropReason::nvgre_no_policy};
}

} // namespace halcyon::vswitch::nvgre
