// Switch model: switch types, learning, known-unicast forwarding, flooding within the VLAN (never
// back out the ingress port), ageing, counters, output rings and sinks.
#include "tests/unit/vswitch_test_packets.hpp"

#include <gtest/gtest.h>

namespace halcyon::vswitch {
namespace {

using namespace test;

constexpr uint64_t kSecond = 1'000'000'000;

Bytes from_to(uint8_t src, uint8_t dst) {
    return udp4_frame(mac(dst), mac(src), ip4(10, 0, 0, src), ip4(10, 0, 0, dst), 1000, 2000);
}

TEST(VswitchSwitchTypes, PortKindsPerSwitchType) {
    Harness priv(SwitchType::private_network);
    PortConfig external;
    external.kind = PortKind::external;
    PortConfig internal;
    internal.kind = PortKind::internal;
    EXPECT_TRUE(priv.sw().add_port(external).is_error());
    EXPECT_TRUE(priv.sw().add_port(internal).is_error());
    EXPECT_FALSE(priv.sw().add_port(PortConfig{}).is_error());

    Harness inner(SwitchType::internal);
    EXPECT_TRUE(inner.sw().add_port(external).is_error());
    EXPECT_FALSE(inner.sw().add_port(internal).is_error());

    Harness ext(SwitchType::external);
    EXPECT_FALSE(ext.sw().add_port(external).is_error());
    auto second = ext.sw().add_port(external);
    ASSERT_TRUE(second.is_error());
    EXPECT_EQ(second.error().code(), ErrorCode::already_exists);
    EXPECT_FALSE(ext.sw().add_port(internal).is_error());
}

TEST(VswitchSwitchTypes, ConfigValidation) {
    Harness h;
    PortConfig bad;
    bad.mtu = 20;
    EXPECT_TRUE(h.sw().add_port(bad).is_error());
    bad = {};
    bad.vlan.access_vlan = 4095;
    EXPECT_TRUE(h.sw().add_port(bad).is_error());
    bad = {};
    bad.vsid = 5; // reserved range
    EXPECT_TRUE(h.sw().add_port(bad).is_error());
    bad = {};
    bad.vsid = 0x5001;
    bad.vlan.access_vlan = 7; // virtualized ports are untagged access ports
    EXPECT_TRUE(h.sw().add_port(bad).is_error());
    bad = {};
    bad.protection.mac_count = 1;
    bad.protection.macs[0] = kBroadcastMac;
    EXPECT_TRUE(h.sw().add_port(bad).is_error());
    EXPECT_EQ(h.sw().ports().size(), 0u);
    for (uint32_t i = 0; i < kMaxPorts; ++i)
        EXPECT_NE(h.add_vm(), kNoPort);
    EXPECT_TRUE(h.sw().add_port(PortConfig{}).is_error());
}

TEST(VswitchForwarding, UnknownUnicastFloodsThenLearnedUnicastIsDirect) {
    Harness h;
    PortId a = h.add_vm(), b = h.add_vm(), c = h.add_vm();
    h.send(a, from_to(1, 2)); // 2 unknown: flood to b and c, never back to a
    EXPECT_EQ(h.count(a), 0u);
    EXPECT_EQ(h.count(b), 1u);
    EXPECT_EQ(h.count(c), 1u);
    h.send(b, from_to(2, 1)); // 1 was learned on a: only a
    EXPECT_EQ(h.count(a), 1u);
    EXPECT_EQ(h.count(c), 0u);
    h.send(a, from_to(1, 2)); // 2 learned on b now
    EXPECT_EQ(h.count(b), 1u);
    EXPECT_EQ(h.count(c), 0u);
    EXPECT_EQ(h.sw().lookup_mac(0, mac(2), 1), b);
}

TEST(VswitchForwarding, DeliveredBytesAreUnchanged) {
    Harness h;
    PortId a = h.add_vm(), b = h.add_vm();
    Bytes frame = from_to(1, 2);
    h.send(a, frame);
    auto out = h.received(b);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], frame);
}

TEST(VswitchForwarding, BroadcastAndMulticastFloodWithinVlanOnly) {
    Harness h;
    PortId a = h.add_vm(10), b = h.add_vm(10), c = h.add_vm(20), d = h.add_vm(10);
    h.send(a, arp_frame(mac(1), 1, mac(1), ip4(10, 0, 0, 1), ip4(10, 0, 0, 9)));
    EXPECT_EQ(h.count(a), 0u);
    EXPECT_EQ(h.count(b), 1u);
    EXPECT_EQ(h.count(c), 0u);
    EXPECT_EQ(h.count(d), 1u);
    h.send(a, udp4_frame(MacAddress{{0x01, 0x00, 0x5e, 0, 0, 1}}, mac(1), ip4(10, 0, 0, 1),
                         ip4(224, 0, 0, 1), 1, 2));
    EXPECT_EQ(h.count(b), 1u);
    EXPECT_EQ(h.count(c), 0u);
    EXPECT_EQ(h.count(d), 1u);
}

TEST(VswitchForwarding, HairpinAndNoDestinationAreCountedDrops) {
    Harness h;
    PortId a = h.add_vm(), b = h.add_vm(5);
    h.send(a, from_to(1, 9));
    h.send(a, from_to(2, 9));
    h.send(a, from_to(3, 1));                           // station 1 is on port a itself
    EXPECT_EQ(h.drops(DropReason::no_destination), 2u); // a is alone in VLAN 0
    EXPECT_EQ(h.drops(DropReason::hairpin), 1u);
    EXPECT_EQ(h.port_drops(a, DropReason::hairpin), 1u);
    EXPECT_EQ(h.count(b), 0u);
}

TEST(VswitchForwarding, MulticastAndZeroSourcesAreNeverLearned) {
    Harness h;
    PortId a = h.add_vm(), b = h.add_vm();
    Bytes bad = from_to(1, 2);
    bad[6] = 0x01; // multicast source
    h.send(a, bad);
    Bytes zero = from_to(1, 2);
    std::fill(zero.begin() + 6, zero.begin() + 12, 0);
    h.send(a, zero);
    EXPECT_EQ(h.drops(DropReason::invalid_source_mac), 2u);
    EXPECT_EQ(h.sw().mac_table().size(), 0u);
    EXPECT_EQ(h.count(b), 0u);
}

TEST(VswitchForwarding, StationMoveRedirectsTraffic) {
    Harness h;
    PortId a = h.add_vm(), b = h.add_vm(), c = h.add_vm();
    h.send(a, from_to(1, 9));
    h.received(b), h.received(c);
    h.send(c, from_to(1, 9)); // station 1 moved to c
    h.received(a), h.received(b);
    h.send(b, from_to(2, 1));
    EXPECT_EQ(h.count(c), 1u);
    EXPECT_EQ(h.count(a), 0u);
    EXPECT_EQ(h.sw().mac_table().stats().moves, 1u);
}

TEST(VswitchForwarding, AgedEntriesFloodAgain) {
    Harness h(SwitchType::external, 1024, 300 * kSecond);
    PortId a = h.add_vm(), b = h.add_vm(), c = h.add_vm();
    h.send(a, from_to(1, 9), 0);
    h.received(b), h.received(c);
    h.send(b, from_to(2, 1), 100 * kSecond);
    EXPECT_EQ(h.count(a), 1u);
    EXPECT_EQ(h.count(c), 0u);
    h.send(b, from_to(2, 1), 400 * kSecond); // entry for 1 aged out: flooded
    EXPECT_EQ(h.count(a), 1u);
    EXPECT_EQ(h.count(c), 1u);
    EXPECT_GE(h.sw().age(400 * kSecond), 1u);
}

TEST(VswitchForwarding, ReconfiguringAPortFlushesItsAddresses) {
    Harness h;
    PortId a = h.add_vm(), b = h.add_vm(), c = h.add_vm();
    h.send(a, from_to(1, 9));
    h.received(b), h.received(c);
    PortConfig moved;
    moved.vlan.access_vlan = 30;
    ASSERT_FALSE(h.sw().configure_port(a, moved).is_error());
    h.send(b, from_to(2, 1));
    EXPECT_EQ(h.count(a), 0u); // a is in VLAN 30 now
    EXPECT_EQ(h.count(c), 1u); // flooded within VLAN 0
}

TEST(VswitchForwarding, CountersPerPort) {
    Harness h;
    PortId a = h.add_vm(), b = h.add_vm(), c = h.add_vm();
    Bytes unicast = from_to(1, 2);
    Bytes broadcast = arp_frame(mac(1), 1, mac(1), ip4(10, 0, 0, 1), ip4(10, 0, 0, 2));
    h.send(a, unicast);   // unknown: flooded to b, c
    h.send(a, broadcast); // to b, c
    const PortCounters& ca = *h.sw().counters(a);
    EXPECT_EQ(ca.rx.packets, 2u);
    EXPECT_EQ(ca.rx.bytes, unicast.size() + broadcast.size());
    EXPECT_EQ(ca.rx.unicast, 1u);
    EXPECT_EQ(ca.rx.broadcast, 1u);
    EXPECT_EQ(ca.tx.packets, 0u);
    const PortCounters& cb = *h.sw().counters(b);
    EXPECT_EQ(cb.tx.packets, 2u);
    EXPECT_EQ(cb.tx.unicast, 1u);
    EXPECT_EQ(cb.tx.broadcast, 1u);
    EXPECT_EQ(h.sw().counters(c)->tx.bytes, unicast.size() + broadcast.size());
    h.send(a, udp4_frame(MacAddress{{0x01, 0, 0x5e, 0, 0, 9}}, mac(1), ip4(1, 1, 1, 1),
                         ip4(224, 0, 0, 9), 1, 2));
    EXPECT_EQ(ca.rx.multicast, 1u);
    EXPECT_EQ(cb.tx.multicast, 1u);
}

TEST(VswitchForwarding, DisabledAndUnknownPortsDrop) {
    Harness h;
    PortId a = h.add_vm(), b = h.add_vm();
    PortConfig down;
    down.enabled = false;
    ASSERT_FALSE(h.sw().configure_port(b, down).is_error());
    h.send(a, from_to(1, 2));
    EXPECT_EQ(h.drops(DropReason::port_down), 1u);
    h.send(b, from_to(2, 1));
    EXPECT_EQ(h.drops(DropReason::port_down), 2u);
    h.send(40, from_to(3, 1));
    EXPECT_EQ(h.drops(DropReason::unknown_port), 1u);
    EXPECT_EQ(h.pool().pool().available(), h.pool().pool().size()); // nothing leaked
}

TEST(VswitchForwarding, MtuIsEnforcedOnIngressAndEgress) {
    Harness h;
    PortConfig jumbo;
    jumbo.mtu = 1800;
    PortId a = h.add(jumbo);
    PortId b = h.add_vm(); // MTU 1500
    PortId c = h.add(jumbo);
    Bytes big = udp4_frame(mac(2), mac(1), ip4(1, 0, 0, 1), ip4(1, 0, 0, 2), 1, 2, Bytes(1600, 7));
    h.send(a, big);
    EXPECT_EQ(h.count(c), 1u);
    EXPECT_EQ(h.count(b), 0u);
    EXPECT_EQ(h.port_drops(b, DropReason::mtu_exceeded), 1u);
    h.send(b, big);
    EXPECT_EQ(h.port_drops(b, DropReason::mtu_exceeded), 2u);
}

TEST(VswitchForwarding, RuntsAndMalformedFramesAreCounted) {
    Harness h;
    PortId a = h.add_vm();
    h.add_vm();
    h.send(a, Bytes(10, 0xAA));
    Bytes broken = from_to(1, 2);
    store_be16(broken.data() + 16, 3000); // IPv4 total length beyond the frame
    h.send(a, broken);
    EXPECT_EQ(h.drops(DropReason::runt), 1u);
    EXPECT_EQ(h.drops(DropReason::malformed), 1u);
    EXPECT_EQ(h.sw().counters(a)->drops.total(), 2u);
}

TEST(VswitchForwarding, OutputRingOverflowAndPoolExhaustionAreDrops) {
    Harness h(SwitchType::external, 1024, kDefaultMacAgeingNs, kOutputRingSize + 64);
    PortId a = h.add_vm(), b = h.add_vm();
    for (uint32_t i = 0; i < kOutputRingSize + 10; ++i)
        h.send(a, from_to(1, 2));
    EXPECT_EQ(h.sw().pending(b), kOutputRingSize);
    EXPECT_EQ(h.port_drops(b, DropReason::egress_queue_full), 10u);
    h.received(b);

    Harness small(SwitchType::external, 1024, kDefaultMacAgeingNs, 3);
    PortId x = small.add_vm();
    small.add_vm();
    small.add_vm();
    small.send(x,
               from_to(1, 9)); // one frame in use, one copy possible: flood to 2 ports needs 1 copy
    small.send(x, from_to(1, 9)); // pool now empty except the input: the copy fails
    EXPECT_EQ(small.drops(DropReason::pool_exhausted), 1u);
}

struct CollectingSink final : EgressSink {
    std::vector<std::pair<PortId, Frame*>> frames;
    bool deliver(PortId port, Frame* frame) override {
        frames.emplace_back(port, frame);
        return true;
    }
};

TEST(VswitchForwarding, EgressSinkReceivesFramesAndBurstsAreProcessedWhole) {
    Harness h;
    PortId a = h.add_vm(), b = h.add_vm();
    CollectingSink sink;
    h.sw().set_egress_sink(&sink);
    Burst burst;
    for (uint8_t i = 0; i < kDefaultBurst; ++i)
        ASSERT_TRUE(burst.push(h.pool().make(from_to(1, 2))));
    h.sw().process(a, burst, 1);
    EXPECT_TRUE(burst.empty());
    ASSERT_EQ(sink.frames.size(), kDefaultBurst);
    for (auto& [port, frame] : sink.frames) {
        EXPECT_EQ(port, b);
        EXPECT_EQ(frame->ingress_port, a);
        frame->pool->release(frame);
    }
    EXPECT_EQ(h.sw().pending(b), 0u);
}

} // namespace
} // namespace halcyon::vswitch
