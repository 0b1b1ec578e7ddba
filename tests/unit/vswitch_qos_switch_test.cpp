// QoS inside the real switch pipeline: a VM's maximum bandwidth polices what it sends, and the
// external port's egress scheduler holds frames until poll() hands them back to the switch.
#include "vswitch/qos/switch_qos.hpp"
#include "vswitch_test_packets.hpp"

#include <gtest/gtest.h>

namespace {

using namespace halcyon::vswitch;
using namespace halcyon::vswitch::test;
namespace qos = halcyon::vswitch::qos;

constexpr uint64_t kMs = 1'000'000;

// Hands released frames back to the switch at the time of the poll.
struct SwitchTransmitter final : qos::QosTransmitter {
    Switch& target;
    uint64_t now_ns = 0;
    explicit SwitchTransmitter(Switch& s) : target(s) {}
    void transmit(PortId port, Frame* frame) override { target.transmit(port, frame, now_ns); }
};

TEST(VswitchQosSwitch, PolicingSchedulingAndMetering) {
    Harness h;
    PortConfig uplink_config;
    uplink_config.kind = PortKind::external;
    const PortId uplink = h.add(uplink_config);
    const PortId vm1 = h.add_vm();
    const PortId vm2 = h.add_vm();
    ASSERT_NE(uplink, kNoPort);

    std::vector<Frame*> ring(qos::kMaxClasses * 16);
    // 8 Mbit/s uplink (1 MB/s, about one 1000-byte frame per ms), weight mode.
    qos::EgressScheduler scheduler =
        qos::EgressScheduler::create({8'000'000, qos::MinimumMode::weight, 1100}, ring, 0)
            .release_value();
    qos::SwitchQos hook;
    ASSERT_FALSE(hook.configure_port(vm1, {.egress_class = {.weight = 75}}, 0).is_error());
    // vm2 is capped at 80 kbit/s = 10 kB/s with a 3 kB burst.
    ASSERT_FALSE(hook.configure_port(vm2,
                                     {.maximum_bits_per_second = 80'000,
                                      .maximum_burst_bytes = 3000,
                                      .egress_class = {.weight = 25}},
                                     0)
                     .is_error());
    ASSERT_FALSE(hook.attach_scheduler(uplink, &scheduler, 0).is_error());
    h.sw().set_qos_hook(&hook);

    const MacAddress gateway = mac(0x99);
    const Bytes payload(950, 0xAB);
    for (int i = 0; i < 4; ++i) {
        h.send(vm1, udp4_frame(gateway, mac(1), ip4(10, 0, 0, 1), ip4(8, 8, 8, 8), 1, 2, payload),
               1);
        h.send(vm2, udp4_frame(gateway, mac(2), ip4(10, 0, 0, 2), ip4(8, 8, 8, 8), 1, 2, payload),
               1);
    }
    // vm2's burst holds 3000 bytes: 3 of its 4 frames pass the policer.
    EXPECT_EQ(h.drops(DropReason::qos_rate_limited), 1u);
    EXPECT_EQ(hook.meter(vm2).rate_limited_drops, 1u);
    EXPECT_EQ(hook.meter(vm1).from_port_packets, 4u);
    EXPECT_EQ(hook.meter(vm2).from_port_packets, 3u);
    // Nothing reaches the wire until the scheduler releases it.
    EXPECT_EQ(h.count(uplink), 0u);

    SwitchTransmitter transmitter(h.sw());
    uint32_t released = 0;
    for (uint64_t t = 1; t <= 20; ++t) {
        transmitter.now_ns = t * kMs;
        released += hook.poll(t * kMs, transmitter);
    }
    EXPECT_EQ(released, 7u);
    EXPECT_EQ(h.count(uplink), 7u);
    EXPECT_EQ(hook.meter(uplink).to_port_packets, 7u);
    EXPECT_EQ(scheduler.statistics(vm1).sent_packets, 4u);
    EXPECT_EQ(scheduler.statistics(vm2).sent_packets, 3u);
}

} // namespace
