// The middle of the pipeline: the ingress side of extensions and policy hooks (ACL, QoS, NVGRE)
// and the forwarding decision. Unicast frames are queued per destination (EgressGroups) and
// leave in flush_egress(); a frame that floods first flushes what is queued, so every port still
// receives frames in the order they arrived.
#include "vswitch/core/switch.hpp"
#include "vswitch/packet/frame_pool.hpp"

namespace halcyon::vswitch {

// Encapsulated PA traffic goes only to the physical uplink, in the provider VLAN.
inline void Switch::to_provider(EgressGroups& groups, Frame* frame, PortId ingress, ReachMemo& memo,
                                uint64_t now_ns) {
    frame->vsid = 0;
    if (!memo.valid || memo.vlan != frame->vlan_id) {
        PortSet candidates = external_ports_;
        candidates.remove(ingress);
        memo = {true, frame->vlan_id, 0,
                reachable_ports(pvlans_, present_configs_, candidates, *frame)};
    }
    if (memo.ports.size() == 1) {
        enqueue(groups, PortSet(memo.ports).pop(), frame, now_ns);
        return;
    }
    flush_egress(groups, now_ns);
    deliver_to(memo.ports, frame, ingress, now_ns);
    memo = {}; // deliveries run sinks and hooks
}

void Switch::dispatch_burst(PortId ingress, Frame** frames, uint32_t count, uint64_t now_ns) {
    count = ingress_hooks(ingress, frames, count, now_ns);
    const PortProfile& profile = ports_[ingress].profile;
    std::array<NvgreResult, kMaxBurst> nvgre;
    const bool virtualized = nvgre_ != nullptr && profile.nvgre_role != NvgreRole::none;
    if (virtualized && count != 0) {
        const HookContext hook{ingress, ingress, Direction::from_port, now_ns};
        if (profile.nvgre_role == NvgreRole::provider)
            nvgre_->from_provider_burst(hook, frames, count, nvgre.data());
        else
            nvgre_->from_customer_burst(hook, frames, count, nvgre.data());
    }
    // Local, not a member: a sink or hook that feeds another burst into the switch from inside
    // this one gets its own groups.
    EgressGroups groups;
    LookupMemo lookup;
    ReachMemo reach;
    ReachMemo uplinks; // for encapsulated frames: among the external ports only
    ForwardingExtension* forwarder = extensions_.forwarding();
    for (uint32_t i = 0; i < count; ++i) {
        Frame* frame = frames[i];
        if (virtualized) {
            const NvgreResult& result = nvgre[i];
            switch (result.action) {
            case NvgreAction::not_nvgre:
                break;
            case NvgreAction::forward_local:
                // A decapsulated (or routed) frame must not carry the provider headers' VLAN.
                if (frame->vsid != 0)
                    frame->vlan_id = 0;
                break;
            case NvgreAction::drop:
                drop(frame, ingress, kNoPort, result.reason, now_ns);
                continue;
            case NvgreAction::reply:
                // The frame is an answer to the sender: straight back out the ingress port.
                enqueue(groups, ingress, frame, now_ns);
                continue;
            case NvgreAction::to_provider:
                to_provider(groups, frame, ingress, uplinks, now_ns);
                continue;
            }
        }
        if (forwarder != nullptr) {
            forward_with_extension(groups, *forwarder, frame, ingress, now_ns);
            continue;
        }
        // Known unicast to a port the frame may reach, the common case, without a call; forward()
        // sorts out everything else (its MAC table answer is then the memo's).
        const uint64_t destination = MacAddress::from(frame->data()).to_u64();
        if ((destination >> 40 & 1) == 0 && !groups.full()) {
            const DomainId domain = domain_of(*frame, ingress);
            if (destination != lookup.mac || domain != lookup.domain)
                lookup = {domain, destination, mac_table_.lookup(domain, destination, now_ns)};
            const PortId known = lookup.port;
            if (known != ingress) {
                const PortSet eligible = reach_of(*frame, ingress, reach);
                // Unknown unicast that can flood to one port only goes there like known unicast.
                const PortId to = known != kNoPort       ? known
                                  : eligible.size() == 1 ? PortSet(eligible).pop()
                                                         : kNoPort;
                if (to != kNoPort && eligible.contains(to)) {
                    groups.add(to, frame);
                    continue;
                }
            }
        }
        forward(groups, frame, ingress, lookup, reach, now_ns);
    }
    flush_egress(groups, now_ns);
}

// Ingress extensions, the source port's ACL and QoS policing, each over the whole burst. Returns
// how many frames passed (compacted to the front of `frames`, in order).
uint32_t Switch::ingress_hooks(PortId ingress, Frame** frames, uint32_t count, uint64_t now_ns) {
    uint32_t kept = 0;
    if (!extensions_.empty()) {
        const ExtensionContext context{ingress, kNoPort, now_ns, this};
        for (uint32_t i = 0; i < count; ++i) {
            if (extensions_.run_ingress(context, *frames[i]) == FilterVerdict::drop)
                drop(frames[i], ingress, kNoPort, DropReason::extension_drop, now_ns);
            else
                frames[kept++] = frames[i];
        }
        count = kept;
    }
    const HookContext hook{ingress, ingress, Direction::from_port, now_ns};
    if (acl_ != nullptr && acl_->inspects(ingress)) {
        kept = 0;
        for (uint32_t i = 0; i < count; ++i) {
            const HookResult result = acl_->check(hook, *frames[i]);
            if (!result.pass)
                drop(frames[i], ingress, kNoPort, result.reason, now_ns);
            else
                frames[kept++] = frames[i];
        }
        count = kept;
    }
    if (qos_ != nullptr) {
        kept = 0;
        for (uint32_t i = 0; i < count; ++i) {
            const HookResult result = qos_->ingress(hook, *frames[i]);
            if (!result.pass)
                drop(frames[i], ingress, kNoPort, result.reason, now_ns);
            else
                frames[kept++] = frames[i];
        }
        count = kept;
    }
    return count;
}

// The reach of a frame whose VLAN/VSID differ from its port's untagged class (reach_of()).
PortSet Switch::reach_of_other(const Frame& frame, PortId ingress, ReachMemo& memo) const {
    if (!memo.valid || memo.vlan != frame.vlan_id || memo.vsid != frame.vsid) {
        PortSet candidates = present_;
        candidates.remove(ingress);
        memo = {true, frame.vlan_id, frame.vsid,
                reachable_ports(pvlans_, present_configs_, candidates, frame)};
    }
    return memo.ports;
}

// Known unicast goes to its group; broadcast, multicast and unknown unicast flood within the
// domain, never back out the ingress port.
void Switch::forward(EgressGroups& groups, Frame* frame, PortId ingress, LookupMemo& lookup,
                     ReachMemo& reach, uint64_t now_ns) {
    const MacAddress destination = MacAddress::from(frame->data());
    const PortSet eligible = reach_of(*frame, ingress, reach);
    if (!destination.is_multicast()) {
        const DomainId domain = frame_domain(pvlans_, *frame);
        const uint64_t mac = destination.to_u64();
        if (mac != lookup.mac || domain != lookup.domain)
            lookup = {domain, mac, mac_table_.lookup(domain, mac, now_ns)};
        const PortId known = lookup.port;
        if (known == ingress) {
            // The station is on the port the frame came from: the wire already delivered it.
            drop(frame, ingress, kNoPort, DropReason::hairpin, now_ns);
            return;
        }
        if (known != kNoPort) {
            if (!eligible.contains(known)) {
                const bool private_vlan =
                    frame->vsid == 0 && pvlans_[frame->vlan_id].role != PvlanRole::none;
                drop(frame, ingress, known,
                     private_vlan ? DropReason::pvlan_isolation : DropReason::no_destination,
                     now_ns);
                return;
            }
            enqueue(groups, known, frame, now_ns);
            return;
        }
    }
    if (eligible.empty()) {
        drop(frame, ingress, kNoPort, DropReason::no_destination, now_ns);
        return;
    }
    if (eligible.size() == 1) {
        // Flooding to a single port is unicast: the frame itself goes there, with no copy.
        enqueue(groups, PortSet(eligible).pop(), frame, now_ns);
        return;
    }
    flush_egress(groups, now_ns);
    deliver_to(eligible, frame, ingress, now_ns);
    // Deliveries run sinks and hooks, which may have changed what the memos remember.
    lookup = {};
    reach = {};
}

// With a forwarding extension the frame's destinations are its call (within the legal ones),
// unless it defers to default switching.
void Switch::forward_with_extension(EgressGroups& groups, ForwardingExtension& forwarder,
                                    Frame* frame, PortId ingress, uint64_t now_ns) {
    ReachMemo reach;
    const PortSet eligible = reach_of(*frame, ingress, reach);
    const ExtensionContext context{ingress, kNoPort, now_ns, this};
    const ForwardingDecision decision = forwarder.forward(context, *frame, eligible);
    switch (decision.kind) {
    case ForwardingDecision::Kind::default_switching: {
        LookupMemo lookup;
        forward(groups, frame, ingress, lookup, reach, now_ns);
        return;
    }
    case ForwardingDecision::Kind::drop:
        drop(frame, ingress, kNoPort, DropReason::forwarding_extension_drop, now_ns);
        return;
    case ForwardingDecision::Kind::ports: {
        // The extension chooses among legal destinations only; isolation is not its call.
        const PortSet chosen = decision.ports & eligible;
        if (chosen.empty()) {
            drop(frame, ingress, kNoPort,
                 decision.ports.empty() ? DropReason::forwarding_extension_drop
                                        : DropReason::no_destination,
                 now_ns);
            return;
        }
        flush_egress(groups, now_ns);
        deliver_to(chosen, frame, ingress, now_ns);
        return;
    }
    }
}

void Switch::enqueue(EgressGroups& groups, PortId destination, Frame* frame, uint64_t now_ns) {
    if (groups.full())
        flush_egress(groups, now_ns);
    groups.add(destination, frame);
}

void Switch::flush_egress(EgressGroups& groups, uint64_t now_ns) {
    if (groups.empty())
        return;
    groups.flush([this, now_ns](PortId destination, Frame** frames, uint32_t count) {
        egress_burst(destination, frames, count, now_ns);
    });
}

void Switch::deliver_to(PortSet destinations, Frame* frame, PortId ingress, uint64_t now_ns) {
    if (destinations.empty()) {
        drop(frame, ingress, kNoPort, DropReason::no_destination, now_ns);
        return;
    }
    // Every destination but the last gets a copy (egress may retag or modify it); the last one
    // gets the original, so unicast never copies.
    while (destinations.size() > 1) {
        const PortId destination = destinations.pop();
        Frame* copy = clone_frame(pool_, *frame);
        if (copy == nullptr) {
            count_missed_copy(*frame, destination, now_ns);
            continue;
        }
        egress_burst(destination, &copy, 1, now_ns);
    }
    Frame* last = frame;
    egress_burst(destinations.pop(), &last, 1, now_ns);
}

} // namespace halcyon::vswitch
