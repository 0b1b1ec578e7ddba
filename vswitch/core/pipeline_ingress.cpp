// Ingress stages: admission of a burst on its port (port state, parse, size, VLAN classification,
// source address, protection guards, storm limits) and MAC learning.
#include "vswitch/core/guards.hpp"
#include "vswitch/core/pipeline_util.hpp"
#include "vswitch/core/switch.hpp"
#include "vswitch/packet/parser.hpp"
#include "vswitch/packet/vlan_tag.hpp"

namespace halcyon::vswitch {

// Learns the senders of a burst's frames in order. Frames of a burst usually share their sender,
// so a run of frames with the same (domain, source MAC) is learned once and the rest only counted
// (MacTable::note_repeats), which leaves the table exactly as learning each frame would.
class Switch::LearnRun {
public:
    LearnRun(MacTable& table, PortId port, uint64_t now_ns)
        : table_(table), port_(port), now_ns_(now_ns) {}
    LearnRun(const LearnRun&) = delete;
    LearnRun& operator=(const LearnRun&) = delete;
    ~LearnRun() {
        if (repeats_ != 0)
            table_.note_repeats(last_result_, repeats_);
    }

    void learn(DomainId domain, uint64_t source) {
        if (source == last_source_ && domain == last_domain_) {
            ++repeats_;
            return;
        }
        if (repeats_ != 0)
            table_.note_repeats(last_result_, repeats_);
        repeats_ = 0;
        last_result_ = table_.learn(domain, source, port_, now_ns_);
        last_source_ = source;
        last_domain_ = domain;
    }

private:
    MacTable& table_;
    PortId port_;
    uint64_t now_ns_;
    uint64_t last_source_ = ~uint64_t{0}; // no MAC is all ones in 64 bits
    DomainId last_domain_ = 0;
    LearnResult last_result_ = LearnResult::learned;
    uint32_t repeats_ = 0;
};

// Admits and learns a burst. Returns how many frames were admitted; they are compacted to the
// front of `frames`, in order.
uint32_t Switch::admit_burst(PortId ingress, Frame** frames, uint32_t count, uint64_t now_ns) {
    // (process() has stamped the frames and counted them as received.)
    if (!present_.contains(ingress)) {
        for (uint32_t i = 0; i < count; ++i)
            drop(frames[i], kNoPort, kNoPort, DropReason::unknown_port, now_ns);
        return 0;
    }
    Port& port = ports_[ingress];
    if (!port.config.enabled) {
        for (uint32_t i = 0; i < count; ++i)
            drop(frames[i], ingress, kNoPort, DropReason::port_down, now_ns);
        return 0;
    }
    const PortProfile& profile = port.profile;
    // Learn only after the guards and storm limits, so a spoofed frame never redirects anyone's
    // traffic. Without them, learning joins the admission loop.
    const bool later_checks = profile.guarded || profile.storm_limited;
    count = ingress_checks(port, ingress, frames, count, !later_checks, now_ns);
    if (!later_checks)
        return count;
    if (profile.guarded)
        count = guard_checks(port, frames, count, now_ns);
    if (profile.storm_limited)
        count = storm_checks(port, frames, count, now_ns);
    LearnRun learning(mac_table_, ingress, now_ns);
    for (uint32_t i = 0; i < count; ++i)
        learning.learn(frame_domain(pvlans_, *frames[i]),
                       MacAddress::from(frames[i]->data() + 6).to_u64());
    return count;
}

// The checks of one received frame (counted already), in order: runt, parse, size, VLAN
// classification and tag, source address. Drops the frame, or returns where its sender is learnt.
Switch::Admission Switch::admit_frame(Port& port, PortId ingress, Frame& frame, uint64_t now_ns) {
    const PortProfile& profile = port.profile;
    if (frame.length < kEthernetHeaderSize) {
        drop(&frame, ingress, kNoPort, DropReason::runt, now_ns);
        return {};
    }
    if (!parse_frame(frame)) {
        drop(&frame, ingress, kNoPort, DropReason::malformed, now_ns);
        return {};
    }
    const uint32_t tags = frame.headers.tag_count;
    if (frame.length > profile.max_untagged_frame + tags * kVlanTagSize) {
        drop(&frame, ingress, kNoPort, DropReason::mtu_exceeded, now_ns);
        return {};
    }
    frame.priority = 0;
    if (tags == 0) {
        if (!profile.untagged.accepted) {
            drop(&frame, ingress, kNoPort, profile.untagged.reason, now_ns);
            return {};
        }
        frame.vlan_id = profile.untagged.vlan;
    } else {
        const IngressClass vlan = classify_ingress(port.config, frame);
        if (!vlan.accepted) {
            drop(&frame, ingress, kNoPort, vlan.reason, now_ns);
            return {};
        }
        frame.priority = tci_priority(frame.headers.outer_tci);
        (void)strip_outer_vlan_tag(frame); // parsed as tagged, so this cannot fail
        frame.vlan_id = vlan.vlan;
    }
    frame.vsid = port.config.vsid;
    const uint64_t source = MacAddress::from(frame.data() + 6).to_u64();
    // Multicast (the I/G bit, the first byte's lowest bit) or all-zero: nobody's address.
    if ((source >> 40 & 1) != 0 || source == 0) {
        drop(&frame, ingress, kNoPort, DropReason::invalid_source_mac, now_ns);
        return {};
    }
    return {true, tags == 0 ? profile.untagged_domain : frame_domain(pvlans_, frame), source};
}

// Counts and admits a burst (admit_frame() for each frame), learning the senders when `learn`.
// The common frame — untagged IPv4 the one-pass parse accepts, within the size limit, from a port
// that takes untagged frames, with a unicast source — is admitted inline with exactly
// admit_frame()'s result; any other frame goes through admit_frame().
uint32_t Switch::ingress_checks(Port& port, PortId ingress, Frame** frames, uint32_t count,
                                bool learn, uint64_t now_ns) {
    const PortProfile& profile = port.profile;
    const bool untagged_accepted = profile.untagged.accepted;
    const uint32_t max_frame = profile.max_untagged_frame;
    const uint16_t vlan = profile.untagged.vlan;
    const uint32_t vsid = port.config.vsid;
    const DomainId domain = profile.untagged_domain;
    // Admission, recording each admitted frame's sender; the senders are learnt in a loop of
    // their own afterwards (the table is not consulted while a burst is admitted, so this is the
    // same as learning each right away).
    std::array<DomainId, kMaxBurst> domains;
    std::array<uint64_t, kMaxBurst> sources;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < count; ++i) {
        Frame& frame = *frames[i];
        const uint32_t length = frame.length;
        if (untagged_accepted && length >= kEthernetHeaderSize && length <= max_frame &&
            parse_common_ipv4(frame.data(), length, frame.headers)) [[likely]] {
            const uint64_t source = MacAddress::from(frame.data() + 6).to_u64();
            if ((source >> 40 & 1) == 0 && source != 0) [[likely]] {
                frame.priority = 0;
                frame.vlan_id = vlan;
                frame.vsid = vsid;
                domains[kept] = domain;
                sources[kept] = source;
                frames[kept++] = &frame;
                continue;
            }
        }
        const Admission admission = admit_frame(port, ingress, frame, now_ns);
        if (!admission.admitted)
            continue;
        domains[kept] = admission.domain;
        sources[kept] = admission.source;
        frames[kept++] = &frame;
    }
    if (learn) {
        LearnRun learning(mac_table_, ingress, now_ns);
        for (uint32_t i = 0; i < kept; ++i)
            learning.learn(domains[i], sources[i]);
    }
    return kept;
}

// Stateless guards before the storm buckets, as for a single frame: only frames that pass the
// guards take storm tokens, in arrival order.
uint32_t Switch::guard_checks(Port& port, Frame** frames, uint32_t count, uint64_t now_ns) {
    uint32_t kept = 0;
    for (uint32_t i = 0; i < count; ++i) {
        const GuardVerdict guard = check_protection(port.config.protection, *frames[i]);
        if (!guard.pass)
            drop(frames[i], frames[i]->ingress_port, kNoPort, guard.reason, now_ns);
        else
            frames[kept++] = frames[i];
    }
    return kept;
}

uint32_t Switch::storm_checks(Port& port, Frame** frames, uint32_t count, uint64_t now_ns) {
    uint32_t kept = 0;
    for (uint32_t i = 0; i < count; ++i) {
        const MacAddress destination = MacAddress::from(frames[i]->data());
        if (destination.is_multicast()) {
            TokenBucket& bucket =
                destination.is_broadcast() ? port.broadcast_storm : port.multicast_storm;
            if (!bucket.try_take(1, now_ns)) {
                drop(frames[i], frames[i]->ingress_port, kNoPort, DropReason::storm_limit, now_ns);
                continue;
            }
        }
        frames[kept++] = frames[i];
    }
    return kept;
}

} // namespace halcyon::vswitch
