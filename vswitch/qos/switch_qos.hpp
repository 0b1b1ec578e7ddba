// QoS and resource metering for the switch pipeline (vswitch/core/hooks.hpp):
//   - maximum bandwidth of what a port sends (a byte token bucket policing QosHook::ingress;
//     frames over the cap are dropped as qos_rate_limited, as Hyper-V's rate limiting does);
//   - minimum bandwidth on the egress of shared ports: an EgressScheduler attached to a port
//     (normally the external uplink) queues every frame for it in the class of the port that sent
//     it, and poll() later hands frames to the switch at the rates the scheduler allows;
//   - metering per port (packets/bytes the port sent into the switch and had delivered to it, and
//     QoS drops), the network part of the seeds' resource metering.
#pragma once

#include "lib/base/error_or.hpp"
#include "vswitch/core/hooks.hpp"
#include "vswitch/core/port_set.hpp"
#include "vswitch/core/token_bucket.hpp"
#include "vswitch/qos/egress_scheduler.hpp"

#include <array>
#include <stdint.h>

namespace halcyon::vswitch::qos {

struct PortMeter {
    uint64_t from_port_packets = 0; // the port's VM sent (its outgoing traffic)
    uint64_t from_port_bytes = 0;
    uint64_t to_port_packets = 0; // delivered to the port (the VM's incoming traffic)
    uint64_t to_port_bytes = 0;
    uint64_t rate_limited_drops = 0;
    uint64_t queue_full_drops = 0;
};

struct PortQosConfig {
    uint64_t maximum_bits_per_second = 0; // cap on what the port sends; 0 = none
    uint64_t maximum_burst_bytes = 0;     // 0 = 10 ms at the cap, at least 16 KiB
    ClassConfig egress_class;             // the port's class on shared-port schedulers
};

// Where poll() delivers scheduled frames: normally the switch's transmit(port, frame, now_ns),
// with the time of the poll.
class QosTransmitter {
public:
    virtual void transmit(PortId port, Frame* frame) = 0;

protected:
    ~QosTransmitter() = default;
};

class SwitchQos final : public QosHook {
public:
    [[nodiscard]] ErrorOr<void> configure_port(PortId port, const PortQosConfig& config,
                                               uint64_t now_ns);
    // Makes `port` a shared egress port scheduled by `scheduler` (caller-owned, outlives this);
    // every configured port becomes a class of it. nullptr detaches.
    [[nodiscard]] ErrorOr<void> attach_scheduler(PortId port, EgressScheduler* scheduler,
                                                 uint64_t now_ns);

    [[nodiscard]] HookResult ingress(const HookContext& context, const Frame& frame) override;
    [[nodiscard]] QosResult egress(const HookContext& context, Frame& frame) override;

    // Hands every frame the schedulers release at now_ns to `transmitter`; returns how many.
    uint32_t poll(uint64_t now_ns, QosTransmitter& transmitter);

    [[nodiscard]] const PortMeter& meter(PortId port) const { return meters_[port % kMaxPorts]; }
    void reset_meter(PortId port) { meters_[port % kMaxPorts] = PortMeter(); }

private:
    std::array<PortQosConfig, kMaxPorts> configs_{};
    std::array<TokenBucket, kMaxPorts> policers_{};
    std::array<EgressScheduler*, kMaxPorts> schedulers_{};
    std::array<PortMeter, kMaxPorts> meters_{};
    uint64_t configured_ = 0;
};

} // namespace halcyon::vswitch::qos
