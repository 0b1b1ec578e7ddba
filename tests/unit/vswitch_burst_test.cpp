// The batched pipeline must switch a burst exactly as it would switch the same frames one at a
// time: every port receives the same frames in the same order, every counter ends the same. Also
// the pieces the batching relies on: destination groups keep arrival order, a run of frames from
// one sender is learned once but counted per frame.
#include "tests/unit/vswitch_test_packets.hpp"
#include "vswitch/acl/acl_hook.hpp"
#include "vswitch/acl/port_acl.hpp"

#include <gtest/gtest.h>

#include <random>

namespace halcyon::vswitch {
namespace {

using namespace test;

// Stations: one per access port (a..f), two behind the trunk in VLANs 10 and 20, one per PVLAN
// port. Every station is learned before the bursts, so learning a burst's senders first (as the
// batched pipeline does) cannot change where any frame goes.
struct Site {
    Harness h;
    std::vector<PortId> ports;
    std::vector<std::pair<PortId, MacAddress>> stations;
    std::vector<std::byte> acl_memory;
    std::optional<acl::PortAcl> acl;
    acl::PortAclHook acl_hook;

    Site() {
        for (uint16_t vlan : {10, 10, 10, 20, 20}) {
            PortConfig config;
            config.vlan.access_vlan = vlan;
            config.mtu = 200 + vlan; // small MTUs: some frames are too large somewhere
            ports.push_back(h.add(config));
        }
        PortConfig trunk;
        trunk.kind = PortKind::external;
        trunk.vlan.mode = VlanMode::trunk;
        trunk.vlan.native_vlan = 10;
        trunk.vlan.allowed_vlans.add(20);
        trunk.vlan.allowed_vlans.add_range(100, 102);
        ports.push_back(h.add(trunk));
        for (auto [mode, secondary] :
             {std::pair{PvlanMode::isolated, 101}, std::pair{PvlanMode::isolated, 101},
              std::pair{PvlanMode::community, 102}, std::pair{PvlanMode::promiscuous, 0}}) {
            PortConfig pvlan;
            pvlan.vlan.mode = VlanMode::private_vlan;
            pvlan.vlan.pvlan_mode = mode;
            pvlan.vlan.primary_vlan = 100;
            pvlan.vlan.secondary_vlan = static_cast<uint16_t>(secondary);
            pvlan.vlan.promiscuous_secondaries.add(101);
            pvlan.vlan.promiscuous_secondaries.add(102);
            ports.push_back(h.add(pvlan));
        }
        for (PortId port : ports)
            EXPECT_NE(port, kNoPort);
        // An ACL on one port: denies UDP to port 9, meters everything.
        acl::AclLimits limits{8, 16};
        acl_memory.resize(acl::PortAcl::memory_bytes(limits));
        acl.emplace(acl::PortAcl::create(limits, acl_memory).release_value());
        acl::Rule rules[2];
        rules[0].action = acl::Action::deny;
        rules[0].match_protocol = true;
        rules[0].protocol = acl::kProtocolUdp;
        rules[0].remote_ports = {9, 9};
        rules[1].id = 2;
        rules[1].action = acl::Action::meter;
        EXPECT_FALSE(acl->set_rules(rules).is_error());
        EXPECT_FALSE(acl_hook.attach(ports[1], &*acl).is_error());
        h.sw().set_acl_hook(&acl_hook);

        for (size_t i = 0; i < ports.size(); ++i)
            stations.emplace_back(ports[i], mac(static_cast<uint8_t>(0x10 + i)));
        stations.emplace_back(ports[5], mac(0x40)); // behind the trunk, VLAN 20
        for (size_t i = 0; i < stations.size(); ++i) {
            const auto& [port, station] = stations[i];
            const bool tagged = i == stations.size() - 1;
            h.send(port,
                   arp_frame(station, 1, station, ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), kBroadcastMac,
                             tagged ? std::initializer_list<Tag>{{20}}
                                    : std::initializer_list<Tag>{}));
        }
        for (PortId port : ports)
            (void)h.received(port);
    }
};

Bytes random_frame(std::mt19937& random, const Site& site, size_t sender) {
    const auto& [port, source] = site.stations[sender];
    const MacAddress destination = random() % 5 == 0 ? kBroadcastMac
                                   : random() % 7 == 0
                                       ? mac(0x70) // never learned: flooded
                                       : site.stations[random() % site.stations.size()].second;
    const uint16_t dport = random() % 4 == 0 ? 9 : 80;
    const Bytes payload(random() % 3 == 0 ? 300 : 20, 0x5A);
    const bool trunk = port == site.ports[5];
    const uint16_t vlan = sender == site.stations.size() - 1 ? 20 : random() % 2 ? 101 : 102;
    Bytes frame = trunk && random() % 2
                      ? udp4_frame(destination, source, ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 1,
                                   dport, payload, {{vlan, static_cast<uint8_t>(random() % 8)}})
                      : udp4_frame(destination, source, ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 1,
                                   dport, payload);
    if (random() % 11 == 0)
        frame.resize(random() % frame.size()); // runt or malformed
    return frame;
}

void expect_same_counters(Switch& a, Switch& b, const std::vector<PortId>& ports) {
    EXPECT_EQ(a.drops().by_reason, b.drops().by_reason);
    for (PortId port : ports) {
        const PortCounters& x = *a.counters(port);
        const PortCounters& y = *b.counters(port);
        EXPECT_EQ(x.rx.packets, y.rx.packets);
        EXPECT_EQ(x.rx.bytes, y.rx.bytes);
        EXPECT_EQ(x.rx.broadcast, y.rx.broadcast);
        EXPECT_EQ(x.tx.packets, y.tx.packets);
        EXPECT_EQ(x.tx.bytes, y.tx.bytes);
        EXPECT_EQ(x.tx.unicast, y.tx.unicast);
        EXPECT_EQ(x.tx.multicast, y.tx.multicast);
        EXPECT_EQ(x.drops.by_reason, y.drops.by_reason);
    }
    const MacTableStats& s = a.mac_table().stats();
    const MacTableStats& t = b.mac_table().stats();
    EXPECT_EQ(s.learned, t.learned);
    EXPECT_EQ(s.refreshed, t.refreshed);
    EXPECT_EQ(s.moves, t.moves);
}

TEST(VswitchBurst, ABurstIsSwitchedExactlyLikeItsFramesOneByOne) {
    Site batched, single;
    std::mt19937 random(7);
    uint64_t now = 1'000'000;
    for (int round = 0; round < 200; ++round) {
        const size_t sender = random() % batched.stations.size();
        const PortId port = batched.stations[sender].first;
        const uint32_t count = 1 + random() % kMaxBurst;
        Burst burst;
        for (uint32_t i = 0; i < count; ++i) {
            const Bytes frame = random_frame(random, batched, sender);
            ASSERT_TRUE(burst.push(batched.h.pool().make(frame)));
            single.h.send(port, frame, now);
        }
        batched.h.sw().process(port, burst, now);
        now += 1'000;
        for (PortId out : batched.ports)
            ASSERT_EQ(batched.h.received(out), single.h.received(out))
                << "round " << round << ", port " << out;
    }
    expect_same_counters(batched.h.sw(), single.h.sw(), batched.ports);
    EXPECT_EQ(batched.acl->counters(1).packets, single.acl->counters(1).packets);
    EXPECT_EQ(batched.acl->statistics().denied, single.acl->statistics().denied);
    EXPECT_GT(batched.acl->statistics().denied, 0u);
    EXPECT_GT(batched.h.drops(DropReason::pvlan_isolation), 0u);
    EXPECT_GT(batched.h.drops(DropReason::mtu_exceeded), 0u);
    EXPECT_GT(batched.h.drops(DropReason::hairpin), 0u);
}

TEST(VswitchBurst, FramesOfABurstKeepTheirOrderOnEveryPortAroundAFlood) {
    Harness h;
    PortId a = h.add_vm(), b = h.add_vm(), c = h.add_vm();
    h.send(b, arp_frame(mac(2), 1, mac(2), ip4(10, 0, 0, 2), ip4(10, 0, 0, 9)));
    h.send(c, arp_frame(mac(3), 1, mac(3), ip4(10, 0, 0, 3), ip4(10, 0, 0, 9)));
    (void)h.received(a);
    (void)h.received(b);
    (void)h.received(c);
    // To b, to c, broadcast, to b, to c: each port must see its frames in this order.
    Burst burst;
    const std::vector<Bytes> frames = {
        udp4_frame(mac(2), mac(1), ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 1, 1),
        udp4_frame(mac(3), mac(1), ip4(10, 0, 0, 1), ip4(10, 0, 0, 3), 1, 2),
        udp4_frame(kBroadcastMac, mac(1), ip4(10, 0, 0, 1), ip4(10, 0, 0, 255), 1, 3),
        udp4_frame(mac(2), mac(1), ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 1, 4),
        udp4_frame(mac(3), mac(1), ip4(10, 0, 0, 1), ip4(10, 0, 0, 3), 1, 5),
    };
    for (const Bytes& frame : frames)
        ASSERT_TRUE(burst.push(h.pool().make(frame)));
    h.sw().process(a, burst, 2);
    EXPECT_EQ(h.received(b), (std::vector<Bytes>{frames[0], frames[2], frames[3]}));
    EXPECT_EQ(h.received(c), (std::vector<Bytes>{frames[1], frames[2], frames[4]}));
}

TEST(VswitchBurst, ARunOfFramesFromOneSenderIsLearnedOnceButCountedPerFrame) {
    Harness h;
    PortId a = h.add_vm(), b = h.add_vm();
    Burst burst;
    for (int i = 0; i < 20; ++i)
        ASSERT_TRUE(burst.push(
            h.pool().make(udp4_frame(mac(2), mac(1), ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 1, 2))));
    ASSERT_TRUE(burst.push(
        h.pool().make(udp4_frame(mac(2), mac(7), ip4(10, 0, 0, 7), ip4(10, 0, 0, 2), 1, 2))));
    ASSERT_TRUE(burst.push(
        h.pool().make(udp4_frame(mac(2), mac(1), ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 1, 2))));
    h.sw().process(a, burst, 5);
    const MacTableStats& stats = h.sw().mac_table().stats();
    EXPECT_EQ(stats.learned, 2u);
    EXPECT_EQ(stats.refreshed, 20u); // 19 repeats of the first run and the last frame
    EXPECT_EQ(h.sw().lookup_mac(0, mac(1), 5), a);
    EXPECT_EQ(h.sw().lookup_mac(0, mac(7), 5), a);
    EXPECT_EQ(h.count(b), 22u);
}

TEST(VswitchBurst, EgressGroupsDeliverPortsInOrderAndFramesInArrivalOrder) {
    std::array<Frame, 6> frames{};
    EgressGroups groups;
    const PortId destinations[] = {9, 2, 9, 40, 2, 9};
    for (size_t i = 0; i < frames.size(); ++i)
        groups.add(destinations[i], &frames[i]);
    std::vector<std::pair<PortId, std::vector<Frame*>>> seen;
    groups.flush([&](PortId port, Frame** group, uint32_t count) {
        seen.emplace_back(port, std::vector<Frame*>(group, group + count));
    });
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[0], (std::pair<PortId, std::vector<Frame*>>{2, {&frames[1], &frames[4]}}));
    EXPECT_EQ(seen[1],
              (std::pair<PortId, std::vector<Frame*>>{9, {&frames[0], &frames[2], &frames[5]}}));
    EXPECT_EQ(seen[2], (std::pair<PortId, std::vector<Frame*>>{40, {&frames[3]}}));
    EXPECT_TRUE(groups.empty());
    // One destination: the frames go as they are.
    groups.add(5, &frames[0]);
    groups.add(5, &frames[1]);
    seen.clear();
    groups.flush([&](PortId port, Frame** group, uint32_t count) {
        seen.emplace_back(port, std::vector<Frame*>(group, group + count));
    });
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].second, (std::vector<Frame*>{&frames[0], &frames[1]}));
}

} // namespace
} // namespace halcyon::vswitch
