// The packet pipeline's entry point. A burst (frames received on one port) passes the stages of
// hooks.hpp one stage at a time, each stage a loop over the frames still in flight:
//   admit_burst    (pipeline_ingress.cpp)  port state, parse, size, VLAN class, guards, storms,
//                                          MAC learning (once per run of frames from one sender)
//   dispatch_burst (pipeline_forward.cpp)  ingress extensions/ACL/QoS/NVGRE, forwarding decision
//   egress_burst   (pipeline_egress.cpp)   per destination port: extensions, ACL, tagging, MTU,
//                                          QoS, output
// Per-port facts are precomputed (PortProfile), so a stage a port does not use costs one branch
// per burst. Unicast frames are grouped by destination and each group leaves in arrival order.
// Every exit path either outputs a frame or calls drop().
#include "vswitch/core/pipeline_util.hpp"
#include "vswitch/core/switch.hpp"

namespace halcyon::vswitch {

void Switch::process(PortId port, Burst& burst, uint64_t now_ns) {
    now_ns_ = now_ns;
    // Taking the frames over, each is stamped with its port and time and counted as received
    // (on a port that exists) in the same pass.
    std::array<Frame*, kMaxBurst> frames;
    uint32_t count = 0;
    // Unicast frames (most) are only summed; the rest are classified one by one.
    uint64_t bytes = 0;
    pipeline::TrafficTally others;
    for (uint32_t i = 0; i < burst.count && i < kMaxBurst; ++i) {
        Frame* frame = burst.frames[i];
        if (frame == nullptr)
            continue;
        frame->ingress_port = port;
        frame->timestamp_ns = now_ns;
        const uint32_t length = frame->length;
        if (length < 6 || (frame->data()[0] & 1) != 0) [[unlikely]]
            others.add(*frame);
        else
            bytes += length;
        frames[count++] = frame;
    }
    burst.clear();
    if (count == 0)
        return;
    if (present_.contains(port)) {
        pipeline::TrafficTally rx = others;
        rx.packets += count - others.packets;
        rx.bytes += bytes;
        rx.by_kind[pipeline::TrafficTally::kUnicast] += count - others.packets;
        rx.add_to(ports_[port].counters.rx);
    }
    // The whole burst is admitted and learned before any of it is forwarded: a burst comes from
    // one port, so that changes no decision except to recognise a destination on the ingress
    // port (hairpin) one frame earlier.
    count = admit_burst(port, frames.data(), count, now_ns);
    if (count == 0)
        return;
    if (!frame_by_frame()) {
        dispatch_burst(port, frames.data(), count, now_ns);
        return;
    }
    for (uint32_t i = 0; i < count; ++i)
        dispatch_burst(port, &frames[i], 1, now_ns);
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

// A copy for `destination` could not be made: the original is still in flight, so this is a drop
// without a frame to release, counted against the destination that misses it.
void Switch::count_missed_copy(const Frame& original, PortId destination, uint64_t now_ns) {
    drops_.add(DropReason::pool_exhausted);
    ports_[destination].counters.drops.add(DropReason::pool_exhausted);
    if (observer_ != nullptr)
        observer_->on_drop({original.ingress_port, destination, DropReason::pool_exhausted, now_ns},
                           original);
}

} // namespace halcyon::vswitch
