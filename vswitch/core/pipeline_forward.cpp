// The middle of the pipeline: the ingress side of extensions and policy hooks (ACL, QoS, NVGRE)
// and the forwarding decision. Unicast frames are queued per destination (EgressGroups) and
// leave in flush_egress(); a frame that floods first flushes what is queued, so every port still
// receives frames in the order they arrived.
#include "vswitch/core/switch.hpp"
#include "vswitch/packet/frame_pool.hpp"

namespace halcyon::vswitch {

// Encapsulated PA traffic goes only to the physical uplink, in the provider VLAN. (The common
// case, a remembered single uplink, is inline in dispatch_burst().)
void Switch::to_provider(EgressGroups& groups, Frame* frame, PortId ingress, ReachMemo& memo,
                         uint64_t now_ns) {
    frame->vsid = 0;
    if (!memo.valid || memo.vlan != frame->vlan_id) {
        PortSet candidates = external_ports_;
        candidates.remove(ingress);
        memo = {true, frame->vlan_id, 0,
                reachable_ports(pvlans_, present_configs_, candidates, *frame)};
    }
    if (memo.ports.single()) {
        enqueue(groups, PortSet(memo.ports).pop(), frame, now_ns);
        return;
    }
    flush_egress(groups, now_ns);
    deliver_to(memo.ports, frame, ingress, now_ns);
    memo = {}; // deliveries run sinks and hooks
}

// The forwarding state of one burst: its egress groups, the memos of the MAC table answer and
// of reaches, and the ingress port's untagged class (its domain and reach) in locals. (The groups
// hold kMaxBurst frames and a burst has at most that many, each grouped at most once, so the
// paths that group a frame directly need not ask whether they are full; enqueue() still does.)
struct Switch::DispatchState {
    EgressGroups groups;
    ReachMemo reach;
    ReachMemo uplinks; // for encapsulated frames: among the external ports only
    LookupMemo lookup;
    uint16_t untagged_vlan = 0;
    uint32_t port_vsid = 0;
    DomainId untagged_domain = 0;
    PortSet untagged_reach;
};

// Known unicast to a port the frame may reach, the common case, without a call: groups the frame
// and returns its port, or kNoPort for forward() to sort out (its MAC table answer is then the
// memo's).
[[gnu::always_inline]] inline PortId Switch::group_unicast(DispatchState& state, Frame* frame,
                                                           uint64_t destination, PortId ingress,
                                                           uint64_t now_ns) {
    if ((destination >> 40 & 1) != 0)
        return kNoPort;
    const uint16_t vlan = frame->vlan_id;
    const uint32_t vsid = frame->vsid;
    const bool untagged_class = vlan == state.untagged_vlan && vsid == state.port_vsid;
    const DomainId domain = untagged_class ? state.untagged_domain : frame_domain(pvlans_, *frame);
    LookupMemo& lookup = state.lookup;
    if (destination != lookup.mac || domain != lookup.domain)
        lookup = {domain, destination, mac_table_.lookup(domain, destination, now_ns)};
    const PortId known = lookup.port;
    if (known == ingress)
        return kNoPort;
    ReachMemo& reach = state.reach;
    const PortSet eligible = untagged_class ? state.untagged_reach
                             : reach.valid && reach.vlan == vlan && reach.vsid == vsid
                                 ? reach.ports
                                 : reach_of_other(*frame, ingress, reach);
    // Unknown unicast that can flood to one port only goes there like known unicast.
    const PortId to = known != kNoPort    ? known
                      : eligible.single() ? PortSet(eligible).pop()
                                          : kNoPort;
    if (to == kNoPort || !eligible.contains(to))
        return kNoPort;
    state.groups.add(to, frame);
    return to;
}

void Switch::dispatch_burst(PortId ingress, Frame** frames, uint32_t count, uint64_t now_ns) {
    count = ingress_hooks(ingress, frames, count, now_ns);
    const Port& port = ports_[ingress];
    const PortProfile& profile = port.profile;
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
    DispatchState state;
    state.untagged_vlan = profile.untagged.vlan;
    state.port_vsid = port.config.vsid;
    state.untagged_domain = profile.untagged_domain;
    state.untagged_reach = profile.untagged_reach;
    if (ForwardingExtension* forwarder = extensions_.forwarding()) {
        // Frame by frame anyway (frame_by_frame()): NVGRE's verdict, then the extension.
        for (uint32_t i = 0; i < count; ++i)
            if (!virtualized || nvgre_forwards(state, frames[i], ingress, nvgre[i], now_ns))
                forward_with_extension(state.groups, *forwarder, frames[i], ingress, now_ns);
        flush_egress(state.groups, now_ns);
        return;
    }
    if (!virtualized) {
        for (uint32_t i = 0; i < count; ++i) {
            Frame* frame = frames[i];
            const uint64_t destination = MacAddress::from(frame->data()).to_u64();
            if (group_unicast(state, frame, destination, ingress, now_ns) == kNoPort)
                forward(state.groups, frame, ingress, state.lookup, state.reach, now_ns);
        }
        flush_egress(state.groups, now_ns);
        return;
    }
    // The last port the known-unicast path chose: a frame with the same destination, VLAN and
    // VSID goes there too, as long as nothing but grouping happened in between (any other path
    // may run hooks or sinks, so it forgets the choice; the port is still in the groups).
    // Decapsulated traffic comes in runs to one VM.
    uint64_t decided_mac = ~uint64_t{0}; // no MAC (48 bits) is all ones
    uint16_t decided_vlan = 0;
    uint32_t decided_vsid = 0;
    PortId decided_port = kNoPort;
    for (uint32_t i = 0; i < count; ++i) {
        Frame* frame = frames[i];
        const NvgreResult result = nvgre[i];
        if (result.action == NvgreAction::forward_local) [[likely]] {
            // A decapsulated (or routed) frame must not carry the provider headers' VLAN.
            if (frame->vsid != 0)
                frame->vlan_id = 0;
        } else if (result.action == NvgreAction::to_provider) {
            frame->vsid = 0;
            const ReachMemo& uplinks = state.uplinks;
            if (uplinks.valid && uplinks.vlan == frame->vlan_id && uplinks.ports.single())
                [[likely]] {
                state.groups.add(PortSet(uplinks.ports).pop(), frame);
                continue;
            }
            decided_mac = ~uint64_t{0};
            to_provider(state.groups, frame, ingress, state.uplinks, now_ns);
            continue;
        } else if (result.action != NvgreAction::not_nvgre) {
            decided_mac = ~uint64_t{0};
            nvgre_verdict(state.groups, frame, ingress, result, now_ns);
            continue;
        }
        // The memo compares the destination as it lies in the frame (admitted frames have 14
        // bytes at least); the MAC table wants MacAddress::to_u64().
        uint64_t wire_destination;
        __builtin_memcpy(&wire_destination, frame->data(), 8);
        wire_destination &= 0xFFFF'FFFF'FFFFull;
        if (wire_destination == decided_mac && frame->vlan_id == decided_vlan &&
            frame->vsid == decided_vsid) {
            state.groups.add_to_present(decided_port, frame);
            continue;
        }
        const uint64_t destination = MacAddress::from(frame->data()).to_u64();
        const PortId to = group_unicast(state, frame, destination, ingress, now_ns);
        if (to != kNoPort) {
            decided_mac = wire_destination;
            decided_vlan = frame->vlan_id;
            decided_vsid = frame->vsid;
            decided_port = to;
            continue;
        }
        decided_mac = ~uint64_t{0};
        forward(state.groups, frame, ingress, state.lookup, state.reach, now_ns);
    }
    flush_egress(state.groups, now_ns);
}

// What NVGRE's verdict leaves to forwarding (true: forward the frame), the rest carried out.
bool Switch::nvgre_forwards(DispatchState& state, Frame* frame, PortId ingress, NvgreResult result,
                            uint64_t now_ns) {
    switch (result.action) {
    case NvgreAction::not_nvgre:
        return true;
    case NvgreAction::forward_local:
        if (frame->vsid != 0)
            frame->vlan_id = 0;
        return true;
    case NvgreAction::to_provider:
        to_provider(state.groups, frame, ingress, state.uplinks, now_ns);
        return false;
    case NvgreAction::reply:
    case NvgreAction::drop:
        break;
    }
    nvgre_verdict(state.groups, frame, ingress, result, now_ns);
    return false;
}

// The NVGRE verdicts other than "forward" and "to the provider network".
void Switch::nvgre_verdict(EgressGroups& groups, Frame* frame, PortId ingress, NvgreResult result,
                           uint64_t now_ns) {
    if (result.action == NvgreAction::reply) {
        // The frame is an answer to the sender: straight back out the ingress port.
        enqueue(groups, ingress, frame, now_ns);
        return;
    }
    drop(frame, ingress, kNoPort, result.reason, now_ns);
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
        std::array<HookResult, kMaxBurst> results;
        const uint64_t refused = acl_->check_burst(hook, frames, count, results.data());
        if (refused != 0)
            count = drop_refused(frames, count, refused, results.data(), ingress, kNoPort, now_ns);
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

// Drops the frames a hook refused (bits of `refused`, reasons in `results`), in order, keeping
// the others at the front of `frames` in order. Returns how many are kept.
uint32_t Switch::drop_refused(Frame** frames, uint32_t count, uint64_t refused,
                              const HookResult* results, PortId counted_on, PortId egress_port,
                              uint64_t now_ns) {
    uint32_t kept = 0;
    for (uint32_t i = 0; i < count; ++i) {
        if ((refused >> i & 1) != 0)
            drop(frames[i], counted_on, egress_port, results[i].reason, now_ns);
        else
            frames[kept++] = frames[i];
    }
    return kept;
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
    if (eligible.single()) {
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
    while (destinations.several()) {
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
