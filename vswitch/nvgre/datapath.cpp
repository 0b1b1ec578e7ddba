// NetworkVirtualization's packet path: from_customer (ARP/ND from policy, routing between the
// virtual subnets of a routing domain, local delivery or encapsulation) and from_provider
// (decapsulation with VSID and CA/PA policy checks). Each frame is decided by customer_frame() /
// provider_frame() with a BurstMemo, so consecutive frames that share a virtual subnet, a sender,
// a peer or a provider address look each up only once.
#include "vswitch/nvgre/address_resolution.hpp"
#include "vswitch/nvgre/network_virtualization.hpp"
#include "vswitch/packet/checksum.hpp"
#include "vswitch/packet/parser.hpp"
#include "vswitch/packet/protocols.hpp"

namespace halcyon::vswitch::nvgre {

namespace {

[[nodiscard]] bool is_ip(const ParsedHeaders& h) {
    return h.l3 == L3Kind::ipv4 || h.l3 == L3Kind::ipv6;
}

[[nodiscard]] NetAddress source_ip(const uint8_t* data, const ParsedHeaders& h) {
    return h.l3 == L3Kind::ipv4 ? NetAddress::from_wire_v4(data + h.l3_offset + 12)
                                : NetAddress::from_wire_v6(data + h.l3_offset + 8);
}

[[nodiscard]] NetAddress destination_ip(const uint8_t* data, const ParsedHeaders& h) {
    return h.l3 == L3Kind::ipv4 ? NetAddress::from_wire_v4(data + h.l3_offset + 16)
                                : NetAddress::from_wire_v6(data + h.l3_offset + 24);
}

void write_mac(uint8_t* p, const MacAddress& mac) {
    __builtin_memcpy(p, mac.bytes.data(), 6);
}

// Decrements the IPv4 TTL (fixing the header checksum incrementally) or the IPv6 hop limit, as
// any router does. False if the packet must not be forwarded (it would reach zero).
[[nodiscard]] bool decrement_ttl(uint8_t* data, const ParsedHeaders& h) {
    uint8_t* ip = data + h.l3_offset;
    if (h.l3 == L3Kind::ipv4) {
        if (ip[8] <= 1)
            return false;
        const uint16_t old_word = load_be16(ip + 8);
        --ip[8];
        store_be16(ip + 10, checksum_update16(load_be16(ip + 10), old_word, load_be16(ip + 8)));
        return true;
    }
    if (ip[7] <= 1)
        return false;
    --ip[7];
    return true;
}

[[nodiscard]] uint8_t traffic_class_of(const uint8_t* data, const ParsedHeaders& h) {
    const uint8_t* ip = data + h.l3_offset;
    if (h.l3 == L3Kind::ipv4)
        return ip[1];
    return static_cast<uint8_t>((load_be16(ip) >> 4) & 0xFF);
}

[[nodiscard]] bool may_be_resolution(const ParsedHeaders& h) {
    return h.l3 == L3Kind::arp || (h.l3 == L3Kind::ipv6 && h.ip_protocol == ip_protocol::icmpv6);
}

} // namespace

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

NvgreResult NetworkVirtualization::from_customer(const HookContext& context, Frame& frame) {
    (void)context;
    BurstMemo memo;
    return customer_frame(frame, memo);
}

void NetworkVirtualization::from_customer_burst(const HookContext& context, Frame* const* frames,
                                                uint32_t count, NvgreResult* results) {
    (void)context;
    BurstMemo memo;
    for (uint32_t i = 0; i < count; ++i)
        results[i] = customer_frame(*frames[i], memo);
}

NvgreResult NetworkVirtualization::customer_frame(Frame& frame, BurstMemo& memo) {
    const VirtualSubnet* subnet = subnet_of(memo, frame.vsid);
    if (!subnet)
        return drop(DropReason::nvgre_bad_vsid);
    const ParsedHeaders& h = frame.headers;
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
    uint8_t* data = frame.data();
    const MacAddress destination_mac = MacAddress::from(data);
    const MacAddress source_mac = MacAddress::from(data + 6);
    if (destination_mac.is_multicast())
        return {NvgreAction::forward_local, DropReason::nvgre_no_policy};
    if (!is_ip(h))
        return drop(DropReason::nvgre_no_route); // unicast non-IP has no CA to map

    const LookupRecord* source = resolve(memo.sender, memo, source_ip(data, h));
    if (!source || source->vsid != frame.vsid || !(source->customer_mac == source_mac))
        return drop(DropReason::nvgre_no_policy);
    const ProviderEntry* own = provider_of(memo.sender);
    if (own == nullptr || !own->local)
        return drop(DropReason::nvgre_no_policy);
    const LookupRecord* destination = resolve(memo.peer, memo, destination_ip(data, h));
    if (!destination)
        return drop(DropReason::nvgre_no_route);

    if (destination->vsid != frame.vsid) {
        // The distributed router: the VM sent to its default gateway (or, having learnt it from
        // an ARP reply, straight to the CA's MAC); forward into the destination subnet.
        if (!(destination_mac == config_.router_mac) &&
            !(destination_mac == destination->customer_mac))
            return drop(DropReason::nvgre_no_route);
        if (!decrement_ttl(data, h))
            return drop(DropReason::nvgre_ttl_expired);
        write_mac(data, destination->customer_mac);
        write_mac(data + 6, config_.router_mac);
        ++statistics_.routed;
    } else if (!(destination_mac == destination->customer_mac)) {
        return drop(DropReason::nvgre_no_policy);
    }
    frame.vsid = destination->vsid;

    const ProviderEntry* peer = provider_of(memo.peer);
    if (peer != nullptr && peer->local) {
        ++statistics_.delivered_locally;
        return {NvgreAction::forward_local, DropReason::nvgre_no_policy};
    }
    MacAddress next_hop_mac;
    if (!next_hop(peer, next_hop_mac))
        return drop(DropReason::nvgre_no_route);
    return encapsulate_to(frame, *source, *own, *destination, next_hop_mac);
}

NvgreResult NetworkVirtualization::encapsulate_to(Frame& frame, const LookupRecord& source,
                                                  const ProviderEntry& own,
                                                  const LookupRecord& peer,
                                                  const MacAddress& next_hop_mac) {
    const ParsedHeaders& h = frame.headers;
    EncapsulationParams params;
    params.outer_source_mac = own.local_mac;
    params.outer_destination_mac = next_hop_mac;
    params.source_pa = source.provider_address;
    params.destination_pa = peer.provider_address;
    params.vsid = peer.vsid;
    params.flow_id = flow_id_of(frame.bytes(), h);
    params.ttl = config_.ttl;
    params.traffic_class = traffic_class_of(frame.data(), h);
    params.ipv4_identification = next_ipv4_identification_++;
    params.provider_mtu = config_.mtu;
    auto encapsulated = encapsulate(frame, params);
    if (encapsulated.is_error()) {
        switch (encapsulated.error().code()) {
        case ErrorCode::out_of_range:
            return drop(DropReason::nvgre_mtu_exceeded);
        case ErrorCode::out_of_memory:
            return drop(DropReason::pool_exhausted);
        case ErrorCode::corrupt:
            return drop(DropReason::nvgre_malformed);
        default:
            return drop(DropReason::nvgre_no_route);
        }
    }
    // encapsulate() left frame.headers describing the outer packet: no re-parse.
    frame.flow_id = params.flow_id;
    frame.vlan_id = config_.vlan_id;
    ++statistics_.encapsulated;
    return {NvgreAction::to_provider, DropReason::nvgre_no_policy};
}

NvgreResult NetworkVirtualization::from_provider(const HookContext& context, Frame& frame) {
    (void)context;
    BurstMemo memo;
    return provider_frame(frame, memo);
}

void NetworkVirtualization::from_provider_burst(const HookContext& context, Frame* const* frames,
                                                uint32_t count, NvgreResult* results) {
    (void)context;
    BurstMemo memo;
    for (uint32_t i = 0; i < count; ++i)
        results[i] = provider_frame(*frames[i], memo);
}

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
    if (!memo.outer_valid || !(memo.outer_destination == view.outer_destination)) {
        memo.outer_valid = true;
        memo.outer_destination = view.outer_destination;
        memo.outer_local = local_pa(view.outer_destination);
    }
    if (!memo.outer_local)
        return drop(DropReason::nvgre_not_provider_address);
    const VirtualSubnet* subnet = is_valid_vsid(view.vsid) ? subnet_of(memo, view.vsid) : nullptr;
    if (!subnet)
        return drop(DropReason::nvgre_bad_vsid);

    const uint8_t* inner = frame.data() + view.inner_offset;
    ParsedHeaders h;
    if (!parse_common_ipv4(inner, view.inner_length, h) &&
        !parse_frame_headers(inner, view.inner_length, h))
        return drop(DropReason::nvgre_malformed);
    // Only unicast IP crosses the provider network: both ends answer ARP from policy, and
    // broadcast is never sent onto it, so anything else is not in policy.
    const MacAddress inner_destination_mac = MacAddress::from(inner);
    if (!is_ip(h) || inner_destination_mac.is_multicast())
        return drop(DropReason::nvgre_no_policy);
    const LookupRecord* destination = resolve(memo.peer, memo, destination_ip(inner, h));
    if (!destination || destination->vsid != view.vsid ||
        !(destination->provider_address == view.outer_destination) ||
        !(destination->customer_mac == inner_destination_mac))
        return drop(DropReason::nvgre_no_policy);
    const LookupRecord* source = resolve(memo.sender, memo, source_ip(inner, h));
    if (!source || !(source->provider_address == view.outer_source))
        return drop(DropReason::nvgre_no_policy);

    if (!frame.pull_front(view.inner_offset) || !frame.set_length(view.inner_length))
        return drop(DropReason::nvgre_malformed);
    frame.vsid = view.vsid;
    frame.vlan_id = 0;
    frame.flow_id = view.flow_id;
    // The frame is now exactly the bytes just parsed as `h`: no second parse.
    frame.headers = h;
    ++statistics_.decapsulated;
    return {NvgreAction::forward_local, DropReason::nvgre_no_policy};
}

} // namespace halcyon::vswitch::nvgre
