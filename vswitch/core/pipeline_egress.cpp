// The egress stage: the frames of a burst for one destination port pass the port's checks
// together (extensions, ACL, VLAN tagging, MTU, QoS) and are output in their order. Also the two
// ways frames reach a port outside forwarding: transmit() (QoS scheduler releases) and
// inject_copy() (mirroring).
#include "vswitch/core/pipeline_util.hpp"
#include "vswitch/core/switch.hpp"
#include "vswitch/packet/frame_pool.hpp"
#include "vswitch/packet/vlan_tag.hpp"

namespace halcyon::vswitch {

void Switch::egress_burst(PortId destination, Frame** frames, uint32_t count, uint64_t now_ns) {
    Port& port = ports_[destination];
    if (!port.config.enabled) {
        for (uint32_t i = 0; i < count; ++i)
            drop(frames[i], destination, destination, DropReason::port_down, now_ns);
        return;
    }
    if (!extensions_.empty() || (acl_ != nullptr && acl_->inspects(destination)))
        count = egress_hooks(destination, frames, count, now_ns);
    if (qos_ == nullptr && sink_ == nullptr && !port.profile.tags_on_egress) [[likely]] {
        egress_to_ring(port, destination, frames, count, now_ns);
        return;
    }
    const uint32_t max_untagged_frame = port.profile.max_untagged_frame;
    const bool tags = port.profile.tags_on_egress;
    const uint16_t native_vlan = port.config.vlan.native_vlan;
    pipeline::TrafficTally tx;
    for (uint32_t i = 0; i < count; ++i) {
        Frame& frame = *frames[i];
        if (tags && frame.vlan_id != native_vlan &&
            !insert_vlan_tag(frame, vlan_tci(frame.vlan_id, frame.priority))) {
            drop(&frame, destination, destination, DropReason::no_headroom, now_ns);
            continue;
        }
        pipeline::pad_to_minimum(frame);
        if (frame.length > max_untagged_frame + frame.headers.tag_count * kVlanTagSize) {
            drop(&frame, destination, destination, DropReason::mtu_exceeded, now_ns);
            continue;
        }
        if (qos_ != nullptr) {
            const HookContext hook{destination, frame.ingress_port, Direction::to_port, now_ns};
            const QosResult result = qos_->egress(hook, frame);
            if (result.action == QosAction::drop) {
                drop(&frame, destination, destination, result.reason, now_ns);
                continue;
            }
            if (result.action == QosAction::queued)
                continue; // the scheduler owns it and will call transmit()
        }
        output_one(port, destination, &frame, tx, now_ns);
    }
    tx.add_to(port.counters.tx);
}

// The rest of egress_burst() for the common port: untagged, no QoS hook, no sink (frames go to
// the port's ring). The same checks in the same order, in a loop with nothing else in it.
void Switch::egress_to_ring(Port& port, PortId destination, Frame** frames, uint32_t count,
                            uint64_t now_ns) {
    const uint32_t max_untagged_frame = port.profile.max_untagged_frame;
    pipeline::TrafficTally tx;
    // The ring's free slots, counted down: no check of the ring per frame. A drop may run an
    // observer that feeds the switch, so after one the count is taken again.
    OutputRing& ring = port.output;
    uint32_t room = ring.room();
    for (uint32_t i = 0; i < count; ++i) {
        Frame& frame = *frames[i];
        pipeline::pad_to_minimum(frame);
        const uint32_t length = frame.length;
        if (length > max_untagged_frame + frame.headers.tag_count * kVlanTagSize) [[unlikely]] {
            drop(&frame, destination, destination, DropReason::mtu_exceeded, now_ns);
            room = ring.room();
            continue;
        }
        if (room == 0) [[unlikely]] {
            drop(&frame, destination, destination, DropReason::egress_queue_full, now_ns);
            room = ring.room();
            continue;
        }
        tx.count(pipeline::TrafficTally::kind_of(frame), length);
        ring.push_with_room(&frame);
        --room;
    }
    tx.add_to(port.counters.tx);
}

// Egress extensions and the destination port's ACL. Returns how many frames passed (compacted).
uint32_t Switch::egress_hooks(PortId destination, Frame** frames, uint32_t count, uint64_t now_ns) {
    uint32_t kept = 0;
    if (!extensions_.empty()) {
        for (uint32_t i = 0; i < count; ++i) {
            const ExtensionContext context{frames[i]->ingress_port, destination, now_ns, this};
            if (extensions_.run_egress(context, *frames[i]) == FilterVerdict::drop)
                drop(frames[i], destination, destination, DropReason::extension_drop, now_ns);
            else
                frames[kept++] = frames[i];
        }
        count = kept;
    }
    if (acl_ != nullptr && acl_->inspects(destination)) {
        std::array<HookResult, kMaxBurst> results;
        const HookContext hook{destination, kNoPort, Direction::to_port, now_ns};
        const uint64_t refused = acl_->check_burst(hook, frames, count, results.data());
        if (refused != 0)
            count = drop_refused(frames, count, refused, results.data(), destination, destination,
                                 now_ns);
    }
    return count;
}

// Hands `frame` to the sink or the port's ring, counting it in `tx` if it was taken.
inline void Switch::output_one(Port& port, PortId destination, Frame* frame,
                               pipeline::TrafficTally& tx, uint64_t now_ns) {
    // Classified before handing it over: a sink may release the frame at once.
    const pipeline::TrafficTally::Kind kind = pipeline::TrafficTally::kind_of(*frame);
    const uint32_t length = frame->length;
    const bool taken =
        sink_ != nullptr ? sink_->deliver(destination, frame) : port.output.push(frame);
    if (!taken) {
        drop(frame, destination, destination, DropReason::egress_queue_full, now_ns);
        return;
    }
    tx.count(kind, length);
}

void Switch::output(PortId destination, Frame* frame, uint64_t now_ns) {
    Port& port = ports_[destination];
    pipeline::TrafficTally tx;
    output_one(port, destination, frame, tx, now_ns);
    tx.add_to(port.counters.tx);
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
