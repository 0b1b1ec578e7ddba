// The per-frame pipeline (order documented in hooks.hpp): ingress checks, learning, extensions,
// ACL/QoS/NVGRE hooks, forwarding decision, then per destination egress extensions, ACL, VLAN
// tagging, MTU and QoS, and output. Every exit path either outputs the frame or calls drop().
#include "vswitch/core/guards.hpp"
#include "vswitch/core/switch.hpp"
#include "vswitch/packet/bytes.hpp"
#include "vswitch/packet/parser.hpp"
#include "vswitch/packet/protocols.hpp"
#include "vswitch/packet/vlan_tag.hpp"

#include <string.h>

namespace halcyon::vswitch {
namespace {

MacAddress destination_mac(const Frame& frame) {
    return MacAddress::from(frame.data());
}

void count_traffic(TrafficCounters& counters, const Frame& frame) {
    ++counters.packets;
    counters.bytes += frame.length;
    if (frame.length < 6)
        return;
    const uint8_t* p = frame.data();
    if ((p[0] & 1) == 0)
        ++counters.unicast;
    else if (destination_mac(frame).is_broadcast())
        ++counters.broadcast;
    else
        ++counters.multicast;
}

// The largest frame a port accepts or sends: MTU plus Ethernet header plus the tags present.
uint32_t max_frame(const PortConfig& config, uint32_t tags) {
    return config.mtu + kEthernetHeaderSize + tags * kVlanTagSize;
}

// A minimum-size frame that lost its tag is 4 bytes short of Ethernet's 60: pad it, as a
// hardware switch does, so the receiver does not see a runt.
void pad_to_minimum(Frame& frame) {
    if (frame.length >= kEthernetMinFrame || frame.tailroom() < kEthernetMinFrame - frame.length)
        return;
    memset(frame.data() + frame.length, 0, kEthernetMinFrame - frame.length);
    frame.length = kEthernetMinFrame;
}

} // namespace

// The burst runs stage by stage rather than frame by frame: all admission checks, then all MAC
// learning, then all forwarding. Each stage's code and tables stay hot across the burst, and since
// a burst comes from one port, learning its sources first changes no forwarding decision except to
// recognise a destination on the ingress port (hairpin) one frame earlier.
void Switch::process(PortId port, Burst& burst, uint64_t now_ns) {
    now_ns_ = now_ns;
    std::array<Frame*, kMaxBurst> admitted;
    uint32_t count = 0;
    for (uint32_t i = 0; i < burst.count; ++i)
        if (burst.frames[i] != nullptr && admit(port, burst.frames[i], now_ns))
            admitted[count++] = burst.frames[i];
    burst.clear();
    for (uint32_t i = 0; i < count; ++i) {
        // Learn only after the guards, so a spoofed frame never redirects anyone's traffic.
        const Frame& frame = *admitted[i];
        mac_table_.learn(frame_domain(pvlans_, frame), MacAddress::from(frame.data() + 6), port,
                         now_ns);
    }
    for (uint32_t i = 0; i < count; ++i)
        dispatch(port, admitted[i], now_ns);
}

void Switch::drop(Frame* frame, PortId counted_on, PortId egress_port, DropReason reason,
                  uint64_t now_ns) {
    drops_.add(reason);
    if (present_.contains(counted_on))
        ports_[counted_on].counters.drops.add(reason);
    if (observer_ != nullptr)
        observer_->on_drop({frame->ingress_port, egress_port, reason, now_ns}, *frame);
    if (frame->pool != nullptr)
        frame->pool->release(frame);
}

bool Switch::ingress_checks(Port& port, Frame& frame, uint64_t now_ns) {
    PortId id = frame.ingress_port;
    if (frame.length < kEthernetHeaderSize) {
        drop(&frame, id, kNoPort, DropReason::runt, now_ns);
        return false;
    }
    if (parse_headers(frame).is_error()) {
        drop(&frame, id, kNoPort, DropReason::malformed, now_ns);
        return false;
    }
    if (frame.length > max_frame(port.config, frame.headers.tag_count)) {
        drop(&frame, id, kNoPort, DropReason::mtu_exceeded, now_ns);
        return false;
    }
    IngressClass vlan = classify_ingress(port.config, frame);
    if (!vlan.accepted) {
        drop(&frame, id, kNoPort, vlan.reason, now_ns);
        return false;
    }
    frame.priority = 0;
    if (frame.headers.tag_count > 0) {
        frame.priority = tci_priority(frame.headers.outer_tci);
        (void)strip_outer_vlan_tag(frame); // parsed as tagged, so this cannot fail
    }
    frame.vlan_id = vlan.vlan;
    frame.vsid = port.config.vsid;
    MacAddress source = MacAddress::from(frame.data() + 6);
    if (source.is_multicast() || source.is_zero()) {
        drop(&frame, id, kNoPort, DropReason::invalid_source_mac, now_ns);
        return false;
    }
    if (port.config.protection.any_guard()) {
        GuardVerdict guard = check_protection(port.config.protection, frame);
        if (!guard.pass) {
            drop(&frame, id, kNoPort, guard.reason, now_ns);
            return false;
        }
    }
    MacAddress destination = destination_mac(frame);
    if (destination.is_multicast()) {
        TokenBucket& bucket =
            destination.is_broadcast() ? port.broadcast_storm : port.multicast_storm;
        if (!bucket.try_take(1, now_ns)) {
            drop(&frame, id, kNoPort, DropReason::storm_limit, now_ns);
            return false;
        }
    }
    return true;
}

bool Switch::admit(PortId ingress, Frame* frame, uint64_t now_ns) {
    frame->ingress_port = ingress;
    frame->timestamp_ns = now_ns;
    if (!present_.contains(ingress)) {
        drop(frame, kNoPort, kNoPort, DropReason::unknown_port, now_ns);
        return false;
    }
    Port& port = ports_[ingress];
    count_traffic(port.counters.rx, *frame);
    if (!port.config.enabled) {
        drop(frame, ingress, kNoPort, DropReason::port_down, now_ns);
        return false;
    }
    return ingress_checks(port, *frame, now_ns);
}

void Switch::dispatch(PortId ingress, Frame* frame, uint64_t now_ns) {
    Port& port = ports_[ingress];
    if (!extensions_.empty()) {
        ExtensionContext context{ingress, kNoPort, now_ns, this};
        if (extensions_.run_ingress(context, *frame) == FilterVerdict::drop) {
            drop(frame, ingress, kNoPort, DropReason::extension_drop, now_ns);
            return;
        }
    }
    HookContext hook{ingress, ingress, Direction::from_port, now_ns};
    if (acl_ != nullptr) {
        HookResult result = acl_->check(hook, *frame);
        if (!result.pass) {
            drop(frame, ingress, kNoPort, result.reason, now_ns);
            return;
        }
    }
    if (qos_ != nullptr) {
        HookResult result = qos_->ingress(hook, *frame);
        if (!result.pass) {
            drop(frame, ingress, kNoPort, result.reason, now_ns);
            return;
        }
    }
    if (nvgre_ != nullptr && (port.config.kind == PortKind::external || port.config.vsid != 0)) {
        NvgreResult result = port.config.kind == PortKind::external
                                 ? nvgre_->from_provider(hook, *frame)
                                 : nvgre_->from_customer(hook, *frame);
        switch (result.action) {
        case NvgreAction::not_nvgre:
        case NvgreAction::forward_local:
            break;
        case NvgreAction::drop:
            drop(frame, ingress, kNoPort, result.reason, now_ns);
            return;
        case NvgreAction::reply:
            // The frame is an answer to the sender: straight back out the ingress port.
            egress(frame, ingress, now_ns);
            return;
        case NvgreAction::to_provider: {
            // Encapsulated PA traffic goes only to the physical uplink, in the provider VLAN.
            frame->vsid = 0;
            PortSet uplinks;
            PortSet candidates = external_ports_;
            while (!candidates.empty()) {
                PortId uplink = candidates.pop();
                if (uplink != ingress && egress_allowed(pvlans_, ports_[uplink].config, *frame))
                    uplinks.add(uplink);
            }
            deliver_to(uplinks, frame, ingress, now_ns);
            return;
        }
        }
        // A decapsulated (or routed) frame must not carry the provider's headers' VLAN.
        if (result.action == NvgreAction::forward_local && frame->vsid != 0)
            frame->vlan_id = 0;
    }
    forward(frame, ingress, now_ns);
}

PortSet Switch::eligible_ports(const Frame& frame, PortId ingress) const {
    PortSet eligible;
    PortSet candidates = present_;
    candidates.remove(ingress);
    while (!candidates.empty()) {
        PortId id = candidates.pop();
        if (egress_allowed(pvlans_, ports_[id].config, frame))
            eligible.add(id);
    }
    return eligible;
}

// Delivers or drops a frame whose destination MAC is learned; false (frame untouched) for
// multicast and unknown destinations, which are flooded.
bool Switch::forward_known_unicast(Frame* frame, PortId ingress, uint64_t now_ns) {
    MacAddress destination = destination_mac(*frame);
    if (destination.is_multicast())
        return false;
    PortId known = mac_table_.lookup(frame_domain(pvlans_, *frame), destination, now_ns);
    if (known == kNoPort)
        return false;
    if (known == ingress) {
        // The station is on the port the frame came from: the wire already delivered it.
        drop(frame, ingress, kNoPort, DropReason::hairpin, now_ns);
        return true;
    }
    if (!egress_allowed(pvlans_, ports_[known].config, *frame)) {
        bool private_vlan = frame->vsid == 0 && pvlans_[frame->vlan_id].role != PvlanRole::none;
        drop(frame, ingress, known,
             private_vlan ? DropReason::pvlan_isolation : DropReason::no_destination, now_ns);
        return true;
    }
    egress(frame, known, now_ns);
    return true;
}

void Switch::forward(Frame* frame, PortId ingress, uint64_t now_ns) {
    ForwardingExtension* forwarder = extensions_.forwarding();
    // Known unicast, the common case, checks only the one destination port.
    if (forwarder == nullptr && forward_known_unicast(frame, ingress, now_ns))
        return;
    PortSet eligible = eligible_ports(*frame, ingress);
    if (forwarder != nullptr) {
        ExtensionContext context{ingress, kNoPort, now_ns, this};
        ForwardingDecision decision = forwarder->forward(context, *frame, eligible);
        switch (decision.kind) {
        case ForwardingDecision::Kind::default_switching:
            break;
        case ForwardingDecision::Kind::drop:
            drop(frame, ingress, kNoPort, DropReason::forwarding_extension_drop, now_ns);
            return;
        case ForwardingDecision::Kind::ports: {
            // The extension chooses among legal destinations only; isolation is not its call.
            PortSet chosen = decision.ports & eligible;
            if (chosen.empty()) {
                drop(frame, ingress, kNoPort,
                     decision.ports.empty() ? DropReason::forwarding_extension_drop
                                            : DropReason::no_destination,
                     now_ns);
                return;
            }
            deliver_to(chosen, frame, ingress, now_ns);
            return;
        }
        }
        if (forward_known_unicast(frame, ingress, now_ns))
            return;
    }
    // Broadcast, multicast and unknown unicast: flood within the domain, never back out.
    if (eligible.empty()) {
        drop(frame, ingress, kNoPort, DropReason::no_destination, now_ns);
        return;
    }
    deliver_to(eligible, frame, ingress, now_ns);
}

// A copy for `destination` could not be made: the original is still in flight, so this is a drop
// without a frame to release, counted against the destination that misses it.
void Switch::count_missed_copy(const Frame& original, PortId destination, uint64_t now_ns) {
    drops_.add(DropReason::pool_exhausted);
    ports_[destination].counters.drops.add(DropReason::pool_exhausted);
    if (observer_ != nullptr)
        observer_->on_drop({original.ingress_port, destination, DropReason::pool_exhausted, now_ns},
                           original);
}

void Switch::deliver_to(PortSet destinations, Frame* frame, PortId ingress, uint64_t now_ns) {
    if (destinations.empty()) {
        drop(frame, ingress, kNoPort, DropReason::no_destination, now_ns);
        return;
    }
    // Every destination but the last gets a copy (egress may retag or modify it); the last one
    // gets the original, so unicast never copies.
    while (destinations.size() > 1) {
        PortId destination = destinations.pop();
        Frame* copy = clone_frame(pool_, *frame);
        if (copy == nullptr) {
            count_missed_copy(*frame, destination, now_ns);
            continue;
        }
        egress(copy, destination, now_ns);
    }
    egress(frame, destinations.pop(), now_ns);
}

void Switch::egress(Frame* frame, PortId destination, uint64_t now_ns) {
    Port& port = ports_[destination];
    if (!port.config.enabled) {
        drop(frame, destination, destination, DropReason::port_down, now_ns);
        return;
    }
    if (!extensions_.empty()) {
        ExtensionContext context{frame->ingress_port, destination, now_ns, this};
        if (extensions_.run_egress(context, *frame) == FilterVerdict::drop) {
            drop(frame, destination, destination, DropReason::extension_drop, now_ns);
            return;
        }
    }
    if (acl_ != nullptr) {
        HookContext hook{destination, frame->ingress_port, Direction::to_port, now_ns};
        HookResult result = acl_->check(hook, *frame);
        if (!result.pass) {
            drop(frame, destination, destination, result.reason, now_ns);
            return;
        }
    }
    if (egress_tagged(port.config, *frame) &&
        !insert_vlan_tag(*frame, vlan_tci(frame->vlan_id, frame->priority))) {
        drop(frame, destination, destination, DropReason::no_headroom, now_ns);
        return;
    }
    pad_to_minimum(*frame);
    if (frame->length > max_frame(port.config, frame->headers.tag_count)) {
        drop(frame, destination, destination, DropReason::mtu_exceeded, now_ns);
        return;
    }
    if (qos_ != nullptr) {
        HookContext hook{destination, frame->ingress_port, Direction::to_port, now_ns};
        QosResult result = qos_->egress(hook, *frame);
        if (result.action == QosAction::drop) {
            drop(frame, destination, destination, result.reason, now_ns);
            return;
        }
        if (result.action == QosAction::queued)
            return; // the scheduler owns it and will call transmit()
    }
    output(destination, frame, now_ns);
}

void Switch::output(PortId destination, Frame* frame, uint64_t now_ns) {
    Port& port = ports_[destination];
    bool taken = sink_ != nullptr ? sink_->deliver(destination, frame) : port.output.push(frame);
    if (!taken) {
        drop(frame, destination, destination, DropReason::egress_queue_full, now_ns);
        return;
    }
    count_traffic(port.counters.tx, *frame);
}

void Switch::transmit(PortId port, Frame* frame, uint64_t now_ns) {
    if (frame == nullptr)
        return;
    if (!present_.contains(port)) {
        drop(frame, kNoPort, port, DropReason::unknown_port, now_ns);
        return;
    }
    output(port, frame, now_ns);
}

bool Switch::inject_copy(PortId port, const Frame& frame) {
    if (!present_.contains(port) || !ports_[port].config.enabled)
        return false;
    Frame* copy = clone_frame(pool_, frame);
    if (copy == nullptr) {
        count_missed_copy(frame, port, now_ns_);
        return false;
    }
    const PortConfig& config = ports_[port].config;
    // A mirror copy keeps its VLAN on a trunk monitor port so the analyser can tell VLANs apart.
    if (config.vlan.mode == VlanMode::trunk && frame.vlan_id != config.vlan.native_vlan &&
        frame.headers.tag_count == 0 &&
        !insert_vlan_tag(*copy, vlan_tci(frame.vlan_id, frame.priority))) {
        drop(copy, port, port, DropReason::no_headroom, now_ns_);
        return false;
    }
    uint64_t before = ports_[port].counters.drops.total();
    output(port, copy, now_ns_);
    return ports_[port].counters.drops.total() == before;
}

} // namespace halcyon::vswitch
