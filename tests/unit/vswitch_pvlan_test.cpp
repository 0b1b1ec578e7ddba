// Private VLANs as the seeds define them (primary VLAN 2 as in their figure): isolated ports talk
// only to promiscuous ports, community ports to their community and promiscuous ports, promiscuous
// ports to every port of the primary. Checked as a full reachability matrix for broadcast and for
// learned unicast, and across a trunk that carries the primary and secondaries tagged.
#include "tests/unit/vswitch_test_packets.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace halcyon::vswitch {
namespace {

using namespace test;

PortConfig pvlan(PvlanMode mode, uint16_t primary, uint16_t secondary,
                 std::initializer_list<uint16_t> secondaries = {}) {
    PortConfig config;
    config.vlan.mode = VlanMode::private_vlan;
    config.vlan.pvlan_mode = mode;
    config.vlan.primary_vlan = primary;
    config.vlan.secondary_vlan = secondary;
    for (uint16_t vlan : secondaries)
        config.vlan.promiscuous_secondaries.add(vlan);
    return config;
}

struct Topology {
    Harness h;
    PortId promiscuous, isolated1, isolated2, community_a1, community_a2, community_b, trunk;
    std::vector<PortId> all;

    Topology() {
        promiscuous = h.add(pvlan(PvlanMode::promiscuous, 2, 0, {10, 20, 30}));
        isolated1 = h.add(pvlan(PvlanMode::isolated, 2, 10));
        isolated2 = h.add(pvlan(PvlanMode::isolated, 2, 10));
        community_a1 = h.add(pvlan(PvlanMode::community, 2, 20));
        community_a2 = h.add(pvlan(PvlanMode::community, 2, 20));
        community_b = h.add(pvlan(PvlanMode::community, 2, 30));
        PortConfig uplink;
        uplink.kind = PortKind::external;
        uplink.vlan.mode = VlanMode::trunk;
        for (uint16_t vlan : {2, 10, 20, 30})
            uplink.vlan.allowed_vlans.add(vlan);
        trunk = h.add(uplink);
        all = {promiscuous, isolated1, isolated2, community_a1, community_a2, community_b, trunk};
        for (PortId id : all)
            EXPECT_NE(id, kNoPort);
    }
};

Bytes broadcast_from(PortId port, std::initializer_list<Tag> tags = {}) {
    uint8_t station = static_cast<uint8_t>(port + 1);
    return arp_frame(mac(station), arp_operation::request, mac(station), ip4(10, 0, 0, station),
                     ip4(10, 0, 0, 99), kBroadcastMac, tags);
}

TEST(VswitchPvlan, BroadcastReachabilityMatrix) {
    Topology t;
    // Expected receivers of a broadcast from each member port (the trunk always carries it).
    std::map<PortId, std::set<PortId>> expected = {
        {t.promiscuous,
         {t.isolated1, t.isolated2, t.community_a1, t.community_a2, t.community_b, t.trunk}},
        {t.isolated1, {t.promiscuous, t.trunk}},
        {t.isolated2, {t.promiscuous, t.trunk}},
        {t.community_a1, {t.promiscuous, t.community_a2, t.trunk}},
        {t.community_a2, {t.promiscuous, t.community_a1, t.trunk}},
        {t.community_b, {t.promiscuous, t.trunk}},
    };
    for (const auto& [source, receivers] : expected) {
        t.h.send(source, broadcast_from(source));
        for (PortId port : t.all) {
            size_t got = t.h.count(port);
            EXPECT_EQ(got, receivers.count(port)) << "from " << source << " to " << port;
        }
    }
}

TEST(VswitchPvlan, TrunkCarriesPvlanVlansTagged) {
    Topology t;
    std::map<PortId, uint16_t> expected_tag = {
        {t.promiscuous, 2}, {t.isolated1, 10}, {t.community_a1, 20}, {t.community_b, 30}};
    for (const auto& [source, vlan] : expected_tag) {
        t.h.send(source, broadcast_from(source));
        auto out = t.h.received(t.trunk);
        ASSERT_EQ(out.size(), 1u);
        EXPECT_EQ(load_be16(out[0].data() + 12), ethertype::vlan);
        EXPECT_EQ(tci_vlan_id(load_be16(out[0].data() + 14)), vlan);
        for (PortId port : t.all)
            t.h.received(port);
    }
}

TEST(VswitchPvlan, FramesFromTrunkAreClassifiedByTheirSecondary) {
    Topology t;
    std::map<uint16_t, std::set<PortId>> expected = {
        {2,
         {t.promiscuous, t.isolated1, t.isolated2, t.community_a1, t.community_a2, t.community_b}},
        {10, {t.promiscuous}},
        {20, {t.promiscuous, t.community_a1, t.community_a2}},
        {30, {t.promiscuous, t.community_b}},
    };
    for (const auto& [vlan, receivers] : expected) {
        t.h.send(t.trunk, broadcast_from(t.trunk, {{vlan}}));
        for (PortId port : t.all) {
            auto out = t.h.received(port);
            EXPECT_EQ(out.size(), receivers.count(port)) << "vlan " << vlan << " port " << port;
            for (const Bytes& bytes : out) // PVLAN member ports are untagged
                EXPECT_NE(load_be16(bytes.data() + 12), ethertype::vlan);
        }
    }
}

TEST(VswitchPvlan, LearnedUnicastToAForbiddenPortIsDroppedAndCounted) {
    Topology t;
    // Every station announces itself so all MACs are learned (in the primary's domain).
    for (PortId port : t.all)
        if (port != t.trunk)
            t.h.send(port, broadcast_from(port));
    for (PortId port : t.all)
        t.h.received(port);
    auto unicast = [&](PortId from, PortId to) {
        uint8_t s = static_cast<uint8_t>(from + 1), d = static_cast<uint8_t>(to + 1);
        t.h.send(from, udp4_frame(mac(d), mac(s), ip4(10, 0, 0, s), ip4(10, 0, 0, d), 1, 2));
        return t.h.count(to);
    };
    EXPECT_EQ(unicast(t.isolated1, t.isolated2), 0u);
    EXPECT_EQ(unicast(t.isolated1, t.community_a1), 0u);
    EXPECT_EQ(unicast(t.community_a1, t.community_b), 0u);
    EXPECT_EQ(unicast(t.community_b, t.isolated2), 0u);
    EXPECT_EQ(t.h.drops(DropReason::pvlan_isolation), 4u);
    EXPECT_EQ(unicast(t.isolated1, t.promiscuous), 1u);
    EXPECT_EQ(unicast(t.promiscuous, t.isolated1), 1u);
    EXPECT_EQ(unicast(t.community_a1, t.community_a2), 1u);
    EXPECT_EQ(unicast(t.community_b, t.promiscuous), 1u);
    EXPECT_EQ(unicast(t.promiscuous, t.community_b), 1u);
    EXPECT_EQ(t.h.drops(DropReason::pvlan_isolation), 4u);
}

TEST(VswitchPvlan, TaggedFramesOnPvlanPortsAreDropped) {
    Topology t;
    t.h.send(t.isolated1, broadcast_from(t.isolated1, {{2}}));
    EXPECT_EQ(t.h.port_drops(t.isolated1, DropReason::vlan_not_allowed), 1u);
    EXPECT_EQ(t.h.count(t.promiscuous), 0u);
}

TEST(VswitchPvlan, ContradictoryConfigurationsAreRejected) {
    Harness h;
    ASSERT_NE(h.add(pvlan(PvlanMode::isolated, 2, 10)), kNoPort);
    // 10 already isolated under 2: cannot become a community, nor belong to primary 3.
    EXPECT_TRUE(h.sw().add_port(pvlan(PvlanMode::community, 2, 10)).is_error());
    EXPECT_TRUE(h.sw().add_port(pvlan(PvlanMode::isolated, 3, 10)).is_error());
    // A secondary cannot be a primary elsewhere, or equal its own primary.
    EXPECT_TRUE(h.sw().add_port(pvlan(PvlanMode::isolated, 10, 11)).is_error());
    EXPECT_TRUE(h.sw().add_port(pvlan(PvlanMode::community, 5, 5)).is_error());
    // A plain access port cannot sit in a PVLAN VLAN (it would bypass the modes).
    PortConfig access;
    access.vlan.access_vlan = 2;
    EXPECT_TRUE(h.sw().add_port(access).is_error());
    access.vlan.access_vlan = 10;
    EXPECT_TRUE(h.sw().add_port(access).is_error());
    // A promiscuous port may not list another primary's secondary.
    EXPECT_TRUE(h.sw().add_port(pvlan(PvlanMode::promiscuous, 3, 0, {10})).is_error());
    EXPECT_FALSE(h.sw().add_port(pvlan(PvlanMode::promiscuous, 2, 0, {10})).is_error());
    EXPECT_EQ(h.sw().pvlans()[10].role, PvlanRole::isolated);
    EXPECT_EQ(h.sw().pvlans()[2].role, PvlanRole::primary);
}

} // namespace
} // namespace halcyon::vswitch
