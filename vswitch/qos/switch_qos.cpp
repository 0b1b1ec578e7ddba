#include "vswitch/qos/switch_qos.hpp"

namespace halcyon::vswitch::qos {

ErrorOr<void> SwitchQos::configure_port(PortId port, const PortQosConfig& config, uint64_t now_ns) {
    if (port >= kMaxPorts)
        return Error(ErrorCode::out_of_range,
                     "QoS configured on a port id beyond the switch's ports");
    for (EgressScheduler* scheduler : schedulers_) {
        if (scheduler)
            TRY(scheduler->configure_class(port, config.egress_class, now_ns));
    }
    configs_[port] = config;
    configured_ |= uint64_t{1} << port;
    if (config.maximum_bits_per_second == 0) {
        policers_[port] = TokenBucket();
    } else {
        const uint64_t rate =
            config.maximum_bits_per_second / 8 == 0 ? 1 : config.maximum_bits_per_second / 8;
        uint64_t burst = config.maximum_burst_bytes;
        if (burst == 0) {
            burst = rate / 100; // 10 ms
            if (burst < 16 * 1024)
                burst = 16 * 1024;
        }
        policers_[port] = TokenBucket(rate, burst, now_ns);
    }
    return {};
}

ErrorOr<void> SwitchQos::attach_scheduler(PortId port, EgressScheduler* scheduler,
                                          uint64_t now_ns) {
    if (port >= kMaxPorts)
        return Error(ErrorCode::out_of_range,
                     "scheduler attached to a port id beyond the switch's ports");
    if (scheduler) {
        for (uint32_t p = 0; p < kMaxPorts; ++p) {
            if ((configured_ >> p) & 1)
                TRY(scheduler->configure_class(p, configs_[p].egress_class, now_ns));
        }
    }
    schedulers_[port] = scheduler;
    return {};
}

HookResult SwitchQos::ingress(const HookContext& context, const Frame& frame) {
    if (context.port >= kMaxPorts)
        return HookResult::allow();
    PortMeter& meter = meters_[context.port];
    if (!policers_[context.port].try_take(frame.length, context.now_ns)) {
        ++meter.rate_limited_drops;
        return HookResult::drop(DropReason::qos_rate_limited);
    }
    ++meter.from_port_packets;
    meter.from_port_bytes += frame.length;
    return HookResult::allow();
}

QosResult SwitchQos::egress(const HookContext& context, Frame& frame) {
    if (context.port >= kMaxPorts)
        return {QosAction::pass, DropReason::qos_drop};
    PortMeter& meter = meters_[context.port];
    EgressScheduler* scheduler = schedulers_[context.port];
    // Frames the switch made itself (no ingress port) are not any VM's traffic: send them now.
    if (!scheduler || frame.ingress_port >= kMaxClasses) {
        ++meter.to_port_packets;
        meter.to_port_bytes += frame.length;
        return {QosAction::pass, DropReason::qos_drop};
    }
    if (!scheduler->enqueue(frame.ingress_port, &frame)) {
        ++meter.queue_full_drops;
        return {QosAction::drop, DropReason::qos_queue_full};
    }
    return {QosAction::queued, DropReason::qos_drop};
}

uint32_t SwitchQos::poll(uint64_t now_ns, QosTransmitter& transmitter) {
    uint32_t sent = 0;
    for (uint32_t port = 0; port < kMaxPorts; ++port) {
        EgressScheduler* scheduler = schedulers_[port];
        if (!scheduler)
            continue;
        while (Frame* frame = scheduler->dequeue(now_ns)) {
            ++meters_[port].to_port_packets;
            meters_[port].to_port_bytes += frame->length;
            transmitter.transmit(static_cast<PortId>(port), frame);
            ++sent;
        }
    }
    return sent;
}

} // namespace halcyon::vswitch::qos
