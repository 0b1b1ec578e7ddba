#include "vswitch/nvgre/network_virtualization.hpp"

#include "vswitch/nvgre/address_resolution.hpp"
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
    for (int i = 0; i < 6; ++i)
        p[i] = mac.bytes[i];
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

} // namespace

template <uint32_t Capacity>
const NetworkVirtualization::AddressMac*
NetworkVirtualization::AddressIndex<Capacity>::find(const NetAddress& address) const {
    constexpr uint32_t mask = kSlots - 1;
    for (uint32_t slot = static_cast<uint32_t>(hash_address(address)) & mask; slots[slot] != 0;
         slot = (slot + 1) & mask) {
        const AddressMac& entry = entries[slots[slot] - 1];
        if (entry.address == address)
            return &entry;
    }
    return nullptr;
}

template <uint32_t Capacity>
bool NetworkVirtualization::AddressIndex<Capacity>::set(const NetAddress& address,
                                                        const MacAddress& mac) {
    constexpr uint32_t mask = kSlots - 1;
    uint32_t slot = static_cast<uint32_t>(hash_address(address)) & mask;
    for (; slots[slot] != 0; slot = (slot + 1) & mask) {
        AddressMac& entry = entries[slots[slot] - 1];
        if (entry.address == address) {
            entry.mac = mac;
            return true;
        }
    }
    if (count == Capacity)
        return false;
    entries[count] = {address, mac};
    slots[slot] = static_cast<uint8_t>(++count);
    return true;
}

ErrorOr<void> NetworkVirtualization::add_local_provider_address(const NetAddress& address,
                                                                const MacAddress& mac) {
    if (local_pa(address))
        return Error(ErrorCode::already_exists, "provider address already configured");
    if (!local_pas_.set(address, mac))
        return Error(ErrorCode::out_of_memory, "too many local provider addresses");
    return {};
}

ErrorOr<void> NetworkVirtualization::set_provider_neighbor(const NetAddress& address,
                                                           const MacAddress& mac) {
    if (!neighbors_.set(address, mac))
        return Error(ErrorCode::out_of_memory, "provider neighbor table is full");
    return {};
}

const NetworkVirtualization::AddressMac*
NetworkVirtualization::local_pa(const NetAddress& address) const {
    return local_pas_.find(address);
}

bool NetworkVirtualization::next_hop(const NetAddress& address, MacAddress& mac) const {
    if (const AddressMac* neighbor = neighbors_.find(address)) {
        mac = neighbor->mac;
        return true;
    }
    if (!config_.has_default_next_hop)
        return false;
    mac = config_.default_next_hop_mac;
    return true;
}

NvgreResult NetworkVirtualization::drop(DropReason reason) {
    statistics_.drops.add(reason);
    return {NvgreAction::drop, reason};
}

NvgreResult NetworkVirtualization::answer_resolution(const VirtualSubnet& subnet,
                                                     const ResolutionRequest& request,
                                                     Frame& frame) {
    MacAddress answer;
    const bool is_router = policy_.is_gateway(subnet.vsid, request.target);
    if (is_router) {
        answer = config_.router_mac;
    } else {
        // Any CA of the routing domain (its subnets never overlap); other domains stay invisible.
        const LookupRecord* record = policy_.record(subnet.routing_domain, request.target);
        if (!record)
            return drop(DropReason::nvgre_no_route);
        answer = record->customer_mac;
    }
    if (!write_resolution_reply(frame, request, answer, is_router) ||
        parse_headers(frame).is_error())
        return drop(DropReason::nvgre_malformed);
    ++statistics_.arp_replies;
    return {NvgreAction::reply, DropReason::nvgre_arp_answered};
}

NvgreResult NetworkVirtualization::from_customer(const HookContext& context, Frame& frame) {
    (void)context;
    const VirtualSubnet* subnet = policy_.subnet(frame.vsid);
    if (!subnet)
        return drop(DropReason::nvgre_bad_vsid);
    const ParsedHeaders& h = frame.headers;
    if (frame.length < kEthernetHeaderSize || !h.has(parse_flag::parsed))
        return drop(DropReason::nvgre_malformed);
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
    uint8_t* data = frame.data();
    const MacAddress destination_mac = MacAddress::from(data);
    const MacAddress source_mac = MacAddress::from(data + 6);
    if (destination_mac.is_multicast())
        return {NvgreAction::forward_local, DropReason::nvgre_no_policy};
    if (!is_ip(h))
        return drop(DropReason::nvgre_no_route); // unicast non-IP has no CA to map

    const RoutingDomainId& domain = subnet->routing_domain;
    const LookupRecord* source = policy_.record(domain, source_ip(data, h));
    if (!source || source->vsid != frame.vsid || !(source->customer_mac == source_mac))
        return drop(DropReason::nvgre_no_policy);
    const AddressMac* own = local_pa(source->provider_address);
    if (!own)
        return drop(DropReason::nvgre_no_policy);
    const LookupRecord* destination = policy_.record(domain, destination_ip(data, h));
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

    if (local_pa(destination->provider_address)) {
        ++statistics_.delivered_locally;
        return {NvgreAction::forward_local, DropReason::nvgre_no_policy};
    }

    EncapsulationParams params;
    params.outer_source_mac = own->mac;
    if (!next_hop(destination->provider_address, params.outer_destination_mac))
        return drop(DropReason::nvgre_no_route);
    params.source_pa = source->provider_address;
    params.destination_pa = destination->provider_address;
    params.vsid = destination->vsid;
    params.flow_id = flow_id_of(frame.bytes(), h);
    params.ttl = config_.ttl;
    params.traffic_class = traffic_class_of(data, h);
    params.ipv4_identification = next_ipv4_identification_++;
    params.provider_mtu = config_.mtu;
    auto encapsulated = encapsulate(frame, params);
    if (encapsulated.is_error()) {
        return drop(
            encapsulated.error().code() == ErrorCode::out_of_range ? DropReason::nvgre_mtu_exceeded
            : encapsulated.error().code() == ErrorCode::out_of_memory ? DropReason::pool_exhausted
                                                                      : DropReason::nvgre_no_route);
    }
    frame.flow_id = params.flow_id;
    frame.vlan_id = config_.vlan_id;
    if (parse_headers(frame).is_error())
        return drop(DropReason::nvgre_malformed);
    ++statistics_.encapsulated;
    return {NvgreAction::to_provider, DropReason::nvgre_no_policy};
}

NvgreResult NetworkVirtualization::from_provider(const HookContext& context, Frame& frame) {
    (void)context;
    NvgreView view;
    switch (parse_nvgre(frame, view)) {
    case NvgreParse::not_nvgre:
        return {NvgreAction::not_nvgre, DropReason::nvgre_no_policy};
    case NvgreParse::malformed:
        return drop(DropReason::nvgre_malformed);
    case NvgreParse::ok:
        break;
    }
    if (!local_pa(view.outer_destination))
        return drop(DropReason::nvgre_not_provider_address);
    const VirtualSubnet* subnet = is_valid_vsid(view.vsid) ? policy_.subnet(view.vsid) : nullptr;
    if (!subnet)
        return drop(DropReason::nvgre_bad_vsid);

    const std::span<const uint8_t> inner{frame.data() + view.inner_offset, view.inner_length};
    ParsedHeaders h;
    if (parse_headers(inner, h).is_error())
        return drop(DropReason::nvgre_malformed);
    // Only unicast IP crosses the provider network: both ends answer ARP from policy, and
    // broadcast is never sent onto it, so anything else is not in policy.
    const MacAddress inner_destination_mac = MacAddress::from(inner.data());
    if (!is_ip(h) || inner_destination_mac.is_multicast())
        return drop(DropReason::nvgre_no_policy);
    const LookupRecord* destination =
        policy_.record(subnet->routing_domain, destination_ip(inner.data(), h));
    if (!destination || destination->vsid != view.vsid ||
        !(destination->provider_address == view.outer_destination) ||
        !(destination->customer_mac == inner_destination_mac))
        return drop(DropReason::nvgre_no_policy);
    const LookupRecord* source = policy_.record(subnet->routing_domain, source_ip(inner.data(), h));
    if (!source || !(source->provider_address == view.outer_source))
        return drop(DropReason::nvgre_no_policy);

    if (!frame.pull_front(view.inner_offset) || !frame.set_length(view.inner_length))
        return drop(DropReason::nvgre_malformed);
    frame.vsid = view.vsid;
    frame.vlan_id = 0;
    frame.flow_id = view.flow_id;
    if (parse_headers(frame).is_error())
        return drop(DropReason::nvgre_malformed);
    ++statistics_.decapsulated;
    return {NvgreAction::forward_local, DropReason::nvgre_no_policy};
}

} // namespace halcyon::vswitch::nvgre
