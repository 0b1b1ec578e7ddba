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
#include "vswitch/core/hooks.hpp"
#include "vswitch/core/mac_table.hpp"
#include "vswitch/core/output.hpp"
#include "vswitch/core/port_config.hpp"
#include "vswitch/core/port_counters.hpp"
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
    // frames; the burst is empty afterwards.
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
        PortCounters counters;
        TokenBucket broadcast_storm;
        TokenBucket multicast_storm;
        OutputRing output;
    };

    [[nodiscard]] ErrorOr<void> validate(PortId port, const PortConfig& config);
    void install(PortId port, const PortConfig& config, uint64_t now_ns);

    // Pipeline stages (pipeline.cpp).
    [[nodiscard]] bool admit(PortId ingress, Frame* frame, uint64_t now_ns);
    void dispatch(PortId ingress, Frame* frame, uint64_t now_ns);
    [[nodiscard]] bool ingress_checks(Port& port, Frame& frame, uint64_t now_ns);
    [[nodiscard]] PortSet eligible_ports(const Frame& frame, PortId ingress) const;
    void forward(Frame* frame, PortId ingress, uint64_t now_ns);
    [[nodiscard]] bool forward_known_unicast(Frame* frame, PortId ingress, uint64_t now_ns);
    void deliver_to(PortSet destinations, Frame* frame, PortId ingress, uint64_t now_ns);
    void egress(Frame* frame, PortId destination, uint64_t now_ns);
    void output(PortId destination, Frame* frame, uint64_t now_ns);
    void drop(Frame* frame, PortId counted_on, PortId egress_port, DropReason reason,
              uint64_t now_ns);
    void count_missed_copy(const Frame& original, PortId destination, uint64_t now_ns);
    bool inject_copy(PortId port, const Frame& frame) override;

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
    std::array<Port, kMaxPorts> ports_{};
};

} // namespace halcyon::vswitch
