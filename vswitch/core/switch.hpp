// The switch: ports, MAC learning, VLAN/PVLAN isolation, protection, extensions and the policy
// hooks, processing bursts of frames without allocating. Pure code: the caller owns the clock
// (now_ns), the frame pool, the MAC table storage and the wires.
//
// Usage: construct with a FramePool and MacEntry storage, add ports, then per received burst call
// process(port, burst, now_ns); delivered frames go to the EgressSink, or into per-port rings the
// caller empties with drain(). Every frame handed to process() ends up exactly once either
// delivered or dropped (counted by reason, reported to the DropObserver, returned to its pool).
// One Switch is driven by one thread at a time (no internal locking); run one switch per core or
// serialise calls.
#pragma once

#include "lib/base/error_or.hpp"
#include "vswitch/core/egress_groups.hpp"
#include "vswitch/core/hooks.hpp"
#include "vswitch/core/mac_table.hpp"
#include "vswitch/core/output.hpp"
#include "vswitch/core/port_config.hpp"
#include "vswitch/core/port_counters.hpp"
#include "vswitch/core/port_profile.hpp"
#include "vswitch/core/port_set.hpp"
#include "vswitch/core/token_bucket.hpp"
#include "vswitch/core/vlan_policy.hpp"
#include "vswitch/ext/extension_chain.hpp"
#include "vswitch/packet/burst.hpp"
#include "vswitch/packet/frame_pool.hpp"

#include <array>
#include <span>
#include <stdint.h>

namespace halcyon::vswitch {

namespace pipeline {
struct TrafficTally;
}

inline constexpr uint64_t kDefaultMacAgeingNs = 300ull * 1'000'000'000; // 300 s, as in 802.1D

class Switch final : private ExtensionServices {
public:
    Switch(SwitchType type, FramePool& pool, std::span<MacEntry> mac_storage,
           uint64_t mac_ageing_ns = kDefaultMacAgeingNs);
    Switch(const Switch&) = delete;
    Switch& operator=(const Switch&) = delete;

    // Ports. Ids are small integers (< kMaxPorts), reused after removal.
    [[nodiscard]] ErrorOr<PortId> add_port(const PortConfig& config);
    [[nodiscard]] ErrorOr<void> configure_port(PortId port, const PortConfig& config);
    [[nodiscard]] ErrorOr<void> remove_port(PortId port);
    [[nodiscard]] const PortConfig* port_config(PortId port) const;
    [[nodiscard]] SwitchType type() const { return type_; }

    // Policy components and observers (nullptr detaches).
    void set_acl_hook(AclHook* hook) { acl_ = hook; }
    void set_qos_hook(QosHook* hook) { qos_ = hook; }
    void set_nvgre_hook(NvgreHook* hook) { nvgre_ = hook; }
    void set_egress_sink(EgressSink* sink) { sink_ = sink; }
    void set_drop_observer(DropObserver* observer) { observer_ = observer; }
    [[nodiscard]] ExtensionChain& extensions() { return extensions_; }

    // Switches every frame of `burst`, received on `port`, at time now_ns. Takes ownership of the
    // frames; the burst is empty afterwards. The result is that of switching the frames one by
    // one, in order, except that the senders of the whole burst are learned before any of it is
    // forwarded (see hooks.hpp for the order of the stages).
    void process(PortId port, Burst& burst, uint64_t now_ns);
    // Delivers a frame a QoS scheduler held back (QosAction::queued) to `port`'s output.
    void transmit(PortId port, Frame* frame, uint64_t now_ns);
    // Moves up to kMaxBurst frames from `port`'s output ring into `out` (appending). Returns how
    // many. Only used when no EgressSink is installed.
    uint32_t drain(PortId port, Burst& out);
    [[nodiscard]] uint32_t pending(PortId port) const;

    // Removes MAC entries idle longer than the ageing time.
    uint32_t age(uint64_t now_ns) { return mac_table_.age(now_ns); }

    [[nodiscard]] const PortCounters* counters(PortId port) const;
    [[nodiscard]] const DropCounters& drops() const { return drops_; }
    [[nodiscard]] const MacTable& mac_table() const { return mac_table_; }
    [[nodiscard]] PortId lookup_mac(uint16_t vlan, const MacAddress& mac, uint64_t now_ns) const;
    [[nodiscard]] const PvlanRegistry& pvlans() const { return pvlans_; }
    [[nodiscard]] PortSet ports() const { return present_; }

private:
    struct Port {
        PortConfig config;
        PortProfile profile;
        PortCounters counters;
        TokenBucket broadcast_storm;
        TokenBucket multicast_storm;
        OutputRing output;
    };

    // The last MAC table answer of a burst: learning is done before forwarding starts, so frames
    // to the same station can reuse it.
    struct LookupMemo {
        DomainId domain = ~DomainId{0};
        uint64_t mac = ~uint64_t{0};
        PortId port = kNoPort;
    };
    // The last reach computed for a frame whose VLAN/VSID differ from its port's untagged class
    // (tagged trunk traffic, decapsulated or routed NVGRE).
    struct ReachMemo {
        bool valid = false;
        uint16_t vlan = 0;
        uint32_t vsid = 0;
        PortSet ports;
    };

    [[nodiscard]] ErrorOr<void> validate(PortId port, const PortConfig& config);
    void install(PortId port, const PortConfig& config, uint64_t now_ns);
    void rebuild_port_state();

    // Pipeline stages, in the order a burst passes them (pipeline_*.cpp).
    [[nodiscard]] uint32_t admit_burst(PortId ingress, Frame** frames, uint32_t count,
                                       uint64_t now_ns);
    class LearnRun;
    // An admitted frame's sender, to be learnt.
    struct Admission {
        bool admitted = false;
        DomainId domain = 0;
        uint64_t source = 0;
    };
    [[nodiscard]] Admission admit_frame(Port& port, PortId ingress, Frame& frame, uint64_t now_ns);
    [[nodiscard]] uint32_t ingress_checks(Port& port, PortId ingress, Frame** frames,
                                          uint32_t count, bool learn, uint64_t now_ns);
    [[nodiscard]] uint32_t guard_checks(Port& port, Frame** frames, uint32_t count,
                                        uint64_t now_ns);
    [[nodiscard]] uint32_t storm_checks(Port& port, Frame** frames, uint32_t count,
                                        uint64_t now_ns);
    void dispatch_burst(PortId ingress, Frame** frames, uint32_t count, uint64_t now_ns);
    struct DispatchState;
    [[nodiscard]] PortId group_unicast(DispatchState& state, Frame* frame, uint64_t destination,
                                       PortId ingress, uint64_t now_ns);
    [[nodiscard]] bool nvgre_forwards(DispatchState& state, Frame* frame, PortId ingress,
                                      NvgreResult result, uint64_t now_ns);
    [[nodiscard]] uint32_t ingress_hooks(PortId ingress, Frame** frames, uint32_t count,
                                         uint64_t now_ns);
    [[nodiscard]] uint32_t drop_refused(Frame** frames, uint32_t count, uint64_t refused,
                                        const HookResult* results, PortId counted_on,
                                        PortId egress_port, uint64_t now_ns);
    [[gnu::noinline]] void to_provider(EgressGroups& groups, Frame* frame, PortId ingress,
                                       ReachMemo& memo, uint64_t now_ns);
    [[gnu::noinline]] void nvgre_verdict(EgressGroups& groups, Frame* frame, PortId ingress,
                                         NvgreResult result, uint64_t now_ns);
    [[gnu::noinline]] void forward(EgressGroups& groups, Frame* frame, PortId ingress,
                                   LookupMemo& lookup, ReachMemo& reach, uint64_t now_ns);
    [[gnu::noinline]] void forward_with_extension(EgressGroups& groups,
                                                  ForwardingExtension& forwarder, Frame* frame,
                                                  PortId ingress, uint64_t now_ns);
    // Where a frame classified like `frame` may go from `ingress` (not back to it): the port's
    // precomputed reach for its own untagged class, else computed and remembered in `memo` for
    // the next frame of the burst.
    [[nodiscard]] PortSet reach_of(const Frame& frame, PortId ingress, ReachMemo& memo) const {
        const Port& port = ports_[ingress];
        if (frame.vlan_id == port.profile.untagged.vlan && frame.vsid == port.config.vsid)
            return port.profile.untagged_reach;
        return reach_of_other(frame, ingress, memo);
    }
    [[nodiscard]] PortSet reach_of_other(const Frame& frame, PortId ingress, ReachMemo& memo) const;
    // frame_domain() of a frame that entered on `ingress`, from the profile when the frame still
    // has its port's untagged class.
    [[nodiscard]] DomainId domain_of(const Frame& frame, PortId ingress) const {
        const Port& port = ports_[ingress];
        if (frame.vlan_id == port.profile.untagged.vlan && frame.vsid == port.config.vsid)
            return port.profile.untagged_domain;
        return frame_domain(pvlans_, frame);
    }
    void enqueue(EgressGroups& groups, PortId destination, Frame* frame, uint64_t now_ns);
    void flush_egress(EgressGroups& groups, uint64_t now_ns);
    void deliver_to(PortSet destinations, Frame* frame, PortId ingress, uint64_t now_ns);
    void egress_burst(PortId destination, Frame** frames, uint32_t count, uint64_t now_ns);
    void egress_to_ring(Port& port, PortId destination, Frame** frames, uint32_t count,
                        uint64_t now_ns);
    [[nodiscard]] uint32_t egress_hooks(PortId destination, Frame** frames, uint32_t count,
                                        uint64_t now_ns);
    void output_one(Port& port, PortId destination, Frame* frame, pipeline::TrafficTally& tx,
                    uint64_t now_ns);
    void output(PortId destination, Frame* frame, uint64_t now_ns);
    void drop(Frame* frame, PortId counted_on, PortId egress_port, DropReason reason,
              uint64_t now_ns);
    void count_missed_copy(const Frame& original, PortId destination, uint64_t now_ns);
    bool inject_copy(PortId port, const Frame& frame) override;
    // Extensions may watch or steer single frames, so with any attached the burst's stages run
    // frame by frame, in the order the frames arrived.
    [[nodiscard]] bool frame_by_frame() const {
        return !extensions_.empty() || extensions_.forwarding() != nullptr;
    }

    SwitchType type_;
    FramePool& pool_;
    MacTable mac_table_;
    PvlanRegistry pvlans_;
    ExtensionChain extensions_;
    AclHook* acl_ = nullptr;
    QosHook* qos_ = nullptr;
    NvgreHook* nvgre_ = nullptr;
    EgressSink* sink_ = nullptr;
    DropObserver* observer_ = nullptr;
    PortSet present_;
    PortSet external_ports_;
    uint64_t now_ns_ = 0; // last time seen, for inject_copy()
    DropCounters drops_;
    // Every port's configuration, nullptr for absent ports (kept with present_).
    std::array<const PortConfig*, kMaxPorts> present_configs_{};
    std::array<Port, kMaxPorts> ports_{};
};

} // namespace halcyon::vswitch
