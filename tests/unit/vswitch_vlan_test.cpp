// 802.1Q: access and trunk ports, tagging and untagging, allowed lists, native VLAN, priority
// tags, double-tag rejection, and a randomized check that no frame ever leaves in a VLAN its
// destination port is not a member of.
#include "tests/unit/vswitch_test_packets.hpp"

#include <gtest/gtest.h>

#include <random>

namespace halcyon::vswitch {
namespace {

using namespace test;

PortConfig trunk(std::initializer_list<uint16_t> allowed, uint16_t native = 0,
                 PortKind kind = PortKind::vm) {
    PortConfig config;
    config.kind = kind;
    config.vlan.mode = VlanMode::trunk;
    config.vlan.native_vlan = native;
    for (uint16_t vlan : allowed)
        config.vlan.allowed_vlans.add(vlan);
    return config;
}

Bytes frame(uint8_t src, uint8_t dst, std::initializer_list<Tag> tags = {}) {
    return udp4_frame(mac(dst), mac(src), ip4(10, 0, 0, src), ip4(10, 0, 0, dst), 1, 2, {}, tags);
}

std::optional<uint16_t> tag_of(const Bytes& bytes) {
    if (load_be16(bytes.data() + 12) != ethertype::vlan)
        return std::nullopt;
    return tci_vlan_id(load_be16(bytes.data() + 14));
}

TEST(VswitchVlan, AccessToTrunkIsTaggedAndBack) {
    Harness h;
    PortId access = h.add_vm(10);
    PortId uplink = h.add(trunk({10, 20}, 0, PortKind::external));
    Bytes untagged = frame(1, 2);
    h.send(access, untagged);
    auto out = h.received(uplink);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(tag_of(out[0]), 10);
    h.send(uplink, frame(2, 1, {{10, 6}}));
    out = h.received(access);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_FALSE(tag_of(out[0]).has_value());
    EXPECT_EQ(out[0], frame(2, 1)); // tag removed and padded back to 60 bytes
}

TEST(VswitchVlan, TaggingWithoutHeadroomIsACountedDrop) {
    Harness h(SwitchType::external, 1024, kDefaultMacAgeingNs, 64, /*headroom=*/0);
    PortId access = h.add_vm(10);
    PortId uplink = h.add(trunk({10}));
    h.send(access, frame(1, 2));
    EXPECT_EQ(h.count(uplink), 0u);
    EXPECT_EQ(h.port_drops(uplink, DropReason::no_headroom), 1u);
}

TEST(VswitchVlan, PriorityIsCarriedToTaggedEgress) {
    Harness h;
    PortId in = h.add(trunk({10}));
    PortId out_port = h.add(trunk({10}));
    h.send(in, frame(1, 2, {{10, 5}}));
    auto out = h.received(out_port);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(tci_priority(load_be16(out[0].data() + 14)), 5);
}

TEST(VswitchVlan, TaggedFrameOnAccessPortIsDropped) {
    Harness h;
    PortId a = h.add_vm(10), b = h.add_vm(10);
    h.send(a, frame(1, 2, {{10}}));
    EXPECT_EQ(h.count(b), 0u);
    EXPECT_EQ(h.port_drops(a, DropReason::vlan_not_allowed), 1u);
}

TEST(VswitchVlan, PriorityTaggedFrameOnAccessPortIsUntagged) {
    Harness h;
    PortId a = h.add_vm(10), b = h.add_vm(10);
    h.send(a, frame(1, 2, {{0, 3}}));
    auto out = h.received(b);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_FALSE(tag_of(out[0]).has_value());
}

TEST(VswitchVlan, TrunkAllowedListAndNativeVlan) {
    Harness h;
    PortId t = h.add(trunk({10, 20}, 30));
    PortId v10 = h.add_vm(10), v20 = h.add_vm(20), v30 = h.add_vm(30), v40 = h.add_vm(40);
    h.send(t, frame(1, 9, {{40}})); // not allowed
    EXPECT_EQ(h.port_drops(t, DropReason::vlan_not_allowed), 1u);
    EXPECT_EQ(h.count(v40), 0u);
    h.send(t, frame(1, 9)); // untagged: native VLAN 30
    EXPECT_EQ(h.count(v30), 1u);
    EXPECT_EQ(h.count(v10) + h.count(v20), 0u);
    h.send(t, frame(1, 9, {{30}})); // tagged with the native VLAN is accepted as native
    EXPECT_EQ(h.count(v30), 1u);
    h.send(v30, frame(3, 9));
    auto out = h.received(t);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_FALSE(tag_of(out[0]).has_value()); // native VLAN leaves untagged
    h.send(v40, frame(4, 9));
    EXPECT_EQ(h.count(t), 0u); // 40 not carried by the trunk
    EXPECT_EQ(h.drops(DropReason::no_destination), 1u);
}

TEST(VswitchVlan, StackedTagsAndVid4095AreRejected) {
    Harness h;
    PortId t = h.add(trunk({10, 20}));
    PortId v20 = h.add_vm(20);
    // Classic VLAN hop: outer tag 10 (allowed) wrapping inner tag 20.
    h.send(t, frame(1, 9, {{10}, {20}}));
    h.send(t, frame(1, 9, {{4095}}));
    EXPECT_EQ(h.port_drops(t, DropReason::vlan_tag_invalid), 2u);
    EXPECT_EQ(h.count(v20), 0u);
}

TEST(VswitchVlan, LearningIsPerVlan) {
    Harness h;
    PortId t = h.add(trunk({10, 20}));
    PortId a10 = h.add_vm(10), b10 = h.add_vm(10), a20 = h.add_vm(20);
    h.send(a10, frame(1, 9));
    h.received(t), h.received(b10);
    // The same MAC in VLAN 20 is unknown there: flooded in 20, not sent to a10.
    h.send(t, frame(2, 1, {{20}}));
    EXPECT_EQ(h.count(a20), 1u);
    EXPECT_EQ(h.count(a10), 0u);
    h.send(t, frame(2, 1, {{10}}));
    EXPECT_EQ(h.count(a10), 1u);
    EXPECT_EQ(h.count(b10), 0u);
}

// Random access/trunk ports, random frames (tagged or not, known or unknown destinations): every
// delivered frame must be in a VLAN its destination carries, with the right tagging, and never go
// back out its ingress port.
TEST(VswitchVlan, RandomTrafficNeverLeaksAcrossVlans) {
    std::mt19937 random(7);
    for (int round = 0; round < 20; ++round) {
        Harness h;
        std::vector<PortConfig> configs;
        std::vector<PortId> ids;
        for (int i = 0; i < 8; ++i) {
            PortConfig config;
            if (random() % 3 == 0) {
                config = trunk({}, static_cast<uint16_t>(random() % 4));
                for (uint16_t vlan = 0; vlan < 4; ++vlan)
                    if (random() % 2)
                        config.vlan.allowed_vlans.add(vlan);
            } else {
                config.vlan.access_vlan = static_cast<uint16_t>(random() % 4);
            }
            configs.push_back(config);
            ids.push_back(h.add(config));
        }
        for (int n = 0; n < 300; ++n) {
            size_t in = random() % ids.size();
            uint8_t src = static_cast<uint8_t>(1 + random() % 12);
            uint8_t dst = random() % 5 == 0 ? 0xFF : static_cast<uint8_t>(1 + random() % 12);
            uint16_t vlan = static_cast<uint16_t>(random() % 5);
            bool tagged = random() % 2;
            Bytes bytes = tagged ? frame(src, dst, {{vlan}}) : frame(src, dst);
            if (dst == 0xFF)
                std::fill(bytes.begin(), bytes.begin() + 6, 0xFF);
            // The VLAN the frame belongs to, as the sender's port defines it (nullopt: dropped).
            std::optional<uint16_t> ingress_vlan;
            const VlanConfig& vc = configs[in].vlan;
            if (vc.mode == VlanMode::access) {
                if (!tagged || vlan == 0)
                    ingress_vlan = vc.access_vlan;
            } else if (!tagged || vlan == 0) {
                ingress_vlan = vc.native_vlan;
            } else if (vlan == vc.native_vlan || vc.allowed_vlans.contains(vlan)) {
                ingress_vlan = vlan;
            }
            h.send(ids[in], bytes);
            for (size_t out = 0; out < ids.size(); ++out) {
                for (const Bytes& delivered : h.received(ids[out])) {
                    ASSERT_NE(out, in) << "frame went back out its ingress port";
                    ASSERT_TRUE(ingress_vlan.has_value()) << "a frame that should drop was sent";
                    const VlanConfig& d = configs[out].vlan;
                    std::optional<uint16_t> tag = tag_of(delivered);
                    if (d.mode == VlanMode::access) {
                        ASSERT_FALSE(tag.has_value());
                        ASSERT_EQ(d.access_vlan, *ingress_vlan);
                    } else if (tag) {
                        ASSERT_EQ(*tag, *ingress_vlan);
                        ASSERT_TRUE(d.allowed_vlans.contains(*tag));
                        ASSERT_NE(*tag, d.native_vlan);
                    } else {
                        ASSERT_EQ(d.native_vlan, *ingress_vlan);
                    }
                }
            }
        }
        EXPECT_EQ(h.pool().pool().available(), h.pool().pool().size());
    }
}

} // namespace
} // namespace halcyon::vswitch
