// NetworkVirtualization's packet path from the VMs: from_customer (ARP/ND from policy, routing
// between the virtual subnets of a routing domain, local delivery or encapsulation), plus the
// memo lookups both directions share. Each frame is decided by customer_frame() with a BurstMemo,
// so consecutive frames that share a virtual subnet, a sender or a peer look each up only once;
// with a flow cache, a unicast IPv4 frame of a known flow skips the decision altogether and only
// applies the cached one (apply_customer(), the same code a fresh decision goes through). A
// decision for the cache carries its outer headers prebuilt (make_outer_template); one that is
// not cached encapsulates straight from its parameters (encapsulate_direct).
#include "vswitch/nvgre/address_resolution.hpp"
#include "vswitch/nvgre/datapath_util.hpp"
#include "vswitch/nvgre/network_virtualization.hpp"

namespace halcyon::vswitch::nvgre {

using namespace datapath;

const VirtualSubnet* NetworkVirtualization::subnet_of(BurstMemo& memo, Vsid vsid) const {
    if (!memo.subnet_valid || memo.vsid != vsid) {
        memo.subnet_valid = true;
        memo.vsid = vsid;
        memo.subnet = policy_.subnet(vsid);
        memo.domain_hash =
            memo.subnet != nullptr ? PolicyTable::domain_hash(memo.subnet->routing_domain) : 0;
    }
    return memo.subnet;
}

const LookupRecord* NetworkVirtualization::resolve(RecordMemo& record, const BurstMemo& memo,
                                                   const NetAddress& address) const {
    if (record.valid && record.subnet == memo.subnet && record.customer_address == address)
        return record.record;
    record.valid = true;
    record.subnet = memo.subnet;
    record.customer_address = address;
    record.record = policy_.record(memo.subnet->routing_domain, memo.domain_hash, address);
    record.provider_known = false;
    return record.record;
}

const ProviderEntry* NetworkVirtualization::provider_of(RecordMemo& record) const {
    if (!record.provider_known) {
        record.provider_known = true;
        record.provider = providers_.find(record.record->provider_address);
    }
    return record.provider;
}

namespace {

// A parsed unicast IPv4 frame: the frames whose decision is a function of their flow key.
[[nodiscard, gnu::always_inline]] inline bool customer_cacheable(const Frame& frame) {
    const ParsedHeaders& h = frame.headers;
    return h.l3 == L3Kind::ipv4 && h.has(parse_flag::parsed) &&
           frame.length >= kEthernetHeaderSize && (frame.data()[0] & 1) == 0;
}

// The drop for an encapsulation that failed with `code` (encapsulate()'s errors).
[[nodiscard]] DropReason encapsulation_drop(ErrorCode code) {
    switch (code) {
    case ErrorCode::out_of_range:
        return DropReason::nvgre_mtu_exceeded;
    case ErrorCode::out_of_memory:
        return DropReason::pool_exhausted;
    case ErrorCode::corrupt:
        return DropReason::nvgre_malformed;
    default:
        return DropReason::nvgre_no_route;
    }
}

} // namespace

// A cache hit is this, the lookup and apply_customer(), all inline in the burst loop.
[[gnu::always_inline]] inline const CustomerFlow*
NetworkVirtualization::cached_customer_flow(const Frame& frame) {
    if (!customer_flows_.enabled() || !customer_cacheable(frame))
        return nullptr;
    const FlowKey key = customer_flow_key(frame.data(), frame.headers, frame.vsid);
    const CustomerFlow* flow = customer_flows_.find(key, key.hash());
    flow_statistics_.hits += flow != nullptr;
    return flow;
}

NvgreResult NetworkVirtualization::encapsulate_flow(Frame& frame, const CustomerDecision& decision,
                                                    const OuterTemplate& outer) {
    // Every encapsulation attempt takes an identification, as it always has.
    const uint16_t identification = next_ipv4_identification_++;
    if (!decision.outer_valid) [[unlikely]]
        return drop(DropReason::nvgre_no_route); // encapsulate()'s invalid_argument
    const uint8_t traffic_class = traffic_class_of(frame.data(), frame.headers);
    auto encapsulated = encapsulate_from(frame, outer, traffic_class, identification);
    if (encapsulated.is_error()) [[unlikely]]
        return drop(encapsulation_drop(encapsulated.error().code()));
    // encapsulate_from() left frame.headers describing the outer packet: no re-parse.
    frame.flow_id = outer.flow_id;
    frame.vlan_id = config_.vlan_id;
    ++statistics_.encapsulated;
    return {NvgreAction::to_provider, DropReason::nvgre_no_policy};
}

// encapsulate_flow() without a flow cache: writing the outer headers straight from the
// parameters costs less than building a template to copy them from once.
NvgreResult NetworkVirtualization::encapsulate_direct(Frame& frame, EncapsulationParams& params) {
    params.traffic_class = traffic_class_of(frame.data(), frame.headers);
    params.ipv4_identification = next_ipv4_identification_++;
    auto encapsulated = encapsulate(frame, params);
    if (encapsulated.is_error()) [[unlikely]]
        return drop(encapsulation_drop(encapsulated.error().code()));
    // encapsulate() left frame.headers describing the outer packet: no re-parse.
    frame.flow_id = params.flow_id;
    frame.vlan_id = config_.vlan_id;
    ++statistics_.encapsulated;
    return {NvgreAction::to_provider, DropReason::nvgre_no_policy};
}

NvgreResult NetworkVirtualization::apply_customer(Frame& frame, const CustomerDecision& flow,
                                                  const OuterTemplate* outer,
                                                  EncapsulationParams* direct) {
    if (flow.outcome == CustomerDecision::Outcome::drop)
        return drop(flow.reason);
    if (flow.routed) {
        uint8_t* data = frame.data();
        if (!decrement_ttl(data, frame.headers))
            return drop(DropReason::nvgre_ttl_expired);
        write_mac(data, flow.routed_mac);
        write_mac(data + 6, config_.router_mac);
        ++statistics_.routed;
    }
    frame.vsid = flow.vsid;
    switch (flow.outcome) {
    case CustomerDecision::Outcome::encapsulate:
        return outer ? encapsulate_flow(frame, flow, *outer) : encapsulate_direct(frame, *direct);
    case CustomerDecision::Outcome::local:
        ++statistics_.delivered_locally;
        return {NvgreAction::forward_local, DropReason::nvgre_no_policy};
    case CustomerDecision::Outcome::no_route:
    case CustomerDecision::Outcome::drop:
        break;
    }
    return drop(DropReason::nvgre_no_route);
}

// A cache hit whose decision is plain encapsulation of a frame that fits, inline in the burst loop:
// apply_customer() and encapsulate_flow() for that case. False (nothing done) otherwise.
[[gnu::always_inline]] inline bool
NetworkVirtualization::encapsulate_cached(Frame& frame, const CustomerFlow& flow,
                                          NvgreResult& result) {
    if (flow.outcome != CustomerDecision::Outcome::encapsulate || flow.routed ||
        !flow.outer_valid || !fits_template(frame, flow.outer))
        return false;
    frame.vsid = flow.vsid;
    const uint16_t identification = next_ipv4_identification_++;
    // A cacheable frame is IPv4: its DSCP/ECN byte is the second of the IP header.
    const uint8_t traffic_class = frame.data()[frame.headers.l3_offset + 1];
    encapsulate_fitting(frame, flow.outer, traffic_class, identification);
    frame.flow_id = flow.outer.flow_id;
    frame.vlan_id = config_.vlan_id;
    ++statistics_.encapsulated;
    result = {NvgreAction::to_provider, DropReason::nvgre_no_policy};
    return true;
}

NvgreResult NetworkVirtualization::from_customer(const HookContext& context, Frame& frame) {
    (void)context;
    sync_with_policy();
    if (const CustomerFlow* cached = cached_customer_flow(frame))
        return apply_customer(frame, *cached, &cached->outer, nullptr);
    BurstMemo memo;
    return customer_frame(frame, memo);
}

void NetworkVirtualization::from_customer_burst(const HookContext& context, Frame* const* frames,
                                                uint32_t count, NvgreResult* results) {
    (void)context;
    sync_with_policy();
    BurstMemo memo;
    for (uint32_t i = 0; i < count; ++i) {
        Frame& frame = *frames[i];
        const CustomerFlow* cached = cached_customer_flow(frame);
        if (cached == nullptr)
            results[i] = customer_frame(frame, memo);
        else if (!encapsulate_cached(frame, *cached, results[i]))
            results[i] = apply_customer(frame, *cached, &cached->outer, nullptr);
    }
}

// A frame that missed the flow cache (or has none).
NvgreResult NetworkVirtualization::customer_frame(Frame& frame, BurstMemo& memo) {
    if (customer_flows_.enabled() && customer_cacheable(frame)) {
        ++flow_statistics_.misses;
        const FlowKey key = customer_flow_key(frame.data(), frame.headers, frame.vsid);
        CustomerFlow flow;
        EncapsulationParams params;
        decide_customer(frame, memo, flow, params);
        if (flow.outcome == CustomerDecision::Outcome::encapsulate)
            flow.outer_valid = make_outer_template(params, flow.outer);
        customer_flows_.insert(key, key.hash(), flow);
        return apply_customer(frame, flow, &flow.outer, nullptr);
    }

    const ParsedHeaders& h = frame.headers;
    const VirtualSubnet* subnet = subnet_of(memo, frame.vsid);
    if (!subnet)
        return drop(DropReason::nvgre_bad_vsid);
    if (frame.length < kEthernetHeaderSize || !h.has(parse_flag::parsed))
        return drop(DropReason::nvgre_malformed);
    if (may_be_resolution(h)) {
        ResolutionRequest request;
        switch (read_resolution_request(frame, request)) {
        case ResolutionKind::request:
            return answer_resolution(*subnet, request, frame);
        case ResolutionKind::passthrough:
            return {NvgreAction::forward_local, DropReason::nvgre_no_policy};
        case ResolutionKind::malformed:
            return drop(DropReason::nvgre_malformed);
        case ResolutionKind::not_resolution:
            break;
        }
    }
    if (MacAddress::from(frame.data()).is_multicast())
        return {NvgreAction::forward_local, DropReason::nvgre_no_policy};
    if (!is_ip(h))
        return drop(DropReason::nvgre_no_route); // unicast non-IP has no CA to map
    CustomerDecision decision;
    EncapsulationParams params;
    decide_customer(frame, memo, decision, params);
    return apply_customer(frame, decision, nullptr, &params);
}

void NetworkVirtualization::decide_customer(const Frame& frame, BurstMemo& memo,
                                            CustomerDecision& flow,
                                            EncapsulationParams& params) const {
    const auto refuse = [&flow](DropReason reason) {
        flow.outcome = CustomerDecision::Outcome::drop;
        flow.reason = reason;
    };
    if (!subnet_of(memo, frame.vsid))
        return refuse(DropReason::nvgre_bad_vsid);
    const ParsedHeaders& h = frame.headers;
    const uint8_t* data = frame.data();
    const MacAddress destination_mac = MacAddress::from(data);
    const MacAddress source_mac = MacAddress::from(data + 6);
    const LookupRecord* source = resolve(memo.sender, memo, source_ip(data, h));
    if (!source || source->vsid != frame.vsid || !(source->customer_mac == source_mac))
        return refuse(DropReason::nvgre_no_policy);
    const ProviderEntry* own = provider_of(memo.sender);
    if (own == nullptr || !own->local)
        return refuse(DropReason::nvgre_no_policy);
    const LookupRecord* destination = resolve(memo.peer, memo, destination_ip(data, h));
    if (!destination)
        return refuse(DropReason::nvgre_no_route);

    if (destination->vsid != frame.vsid) {
        // The distributed router: the VM sent to its default gateway (or, having learnt it from
        // an ARP reply, straight to the CA's MAC); forward into the destination subnet.
        if (!(destination_mac == config_.router_mac) &&
            !(destination_mac == destination->customer_mac))
            return refuse(DropReason::nvgre_no_route);
        flow.routed = true;
        flow.routed_mac = destination->customer_mac;
    } else if (!(destination_mac == destination->customer_mac)) {
        return refuse(DropReason::nvgre_no_policy);
    }
    flow.vsid = destination->vsid;

    const ProviderEntry* peer = provider_of(memo.peer);
    if (peer != nullptr && peer->local) {
        flow.outcome = CustomerDecision::Outcome::local;
        return;
    }
    MacAddress next_hop_mac;
    if (!next_hop(peer, next_hop_mac)) {
        flow.outcome = CustomerDecision::Outcome::no_route;
        return;
    }
    params.outer_source_mac = own->local_mac;
    params.outer_destination_mac = next_hop_mac;
    params.source_pa = source->provider_address;
    params.destination_pa = destination->provider_address;
    params.vsid = destination->vsid;
    // Neither routing's rewrite (MACs, TTL) nor anything else per packet enters the flow id of an
    // IP frame: it is the flow's.
    params.flow_id = flow_id_of(frame.bytes(), h);
    params.ttl = config_.ttl;
    params.provider_mtu = config_.mtu;
    flow.outcome = CustomerDecision::Outcome::encapsulate;
}

} // namespace halcyon::vswitch::nvgre
