#include "vswitch/nvgre/network_virtualization.hpp"

#include "vswitch/nvgre/address_resolution.hpp"
#include "vswitch/packet/parser.hpp"
#include "vswitch/packet/protocols.hpp"

namespace halcyon::vswitch::nvgre {

ErrorOr<void> NetworkVirtualization::add_local_provider_address(const NetAddress& address,
                                                                const MacAddress& mac) {
    switch (providers_.add_local(address, mac)) {
    case ProviderIndex::AddResult::added:
        invalidate_flows(); // "is this PA ours" is part of cached decisions
        return {};
    case ProviderIndex::AddResult::exists:
        return Error(ErrorCode::already_exists, "provider address already configured");
    case ProviderIndex::AddResult::full:
        break;
    }
    return Error(ErrorCode::out_of_memory, "too many local provider addresses");
}

ErrorOr<void> NetworkVirtualization::set_provider_neighbor(const NetAddress& address,
                                                           const MacAddress& mac) {
    if (!providers_.set_neighbor(address, mac))
        return Error(ErrorCode::out_of_memory, "provider neighbor table is full");
    invalidate_flows(); // cached outer headers carry the neighbour's MAC
    return {};
}

ErrorOr<void> NetworkVirtualization::set_flow_caches(std::span<CustomerFlowEntry> customer,
                                                     std::span<ProviderFlowEntry> provider) {
    if (!FlowCache<CustomerFlow>::valid_size(customer.size()) ||
        !FlowCache<ProviderFlow>::valid_size(provider.size()))
        return Error(ErrorCode::invalid_argument,
                     "NVGRE flow cache sizes must be 0 or a power of two >= 4");
    customer_flows_ = FlowCache<CustomerFlow>(customer);
    provider_flows_ = FlowCache<ProviderFlow>(provider);
    return {};
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

} // namespace halcyon::vswitch::nvgre
