// Randomized isolation properties over whole switches: VLANs, private VLANs (with trunks carrying
// them) and NVGRE virtual subnets. The oracle is written independently of the switch's role-based
// logic, as "which VLANs may each port receive", and every delivered frame is checked against it.
#include "tests/unit/vswitch_test_packets.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <set>

namespace halcyon::vswitch {
namespace {

using namespace test;

// Two PVLAN domains: primary 100 (isolated 101, communities 102 and 103) and primary 200
// (isolated 201, community 202), plus plain VLANs 1 and 2.
struct Domain {
    uint16_t primary;
    uint16_t isolated;
    std::vector<uint16_t> communities;
};
const Domain kDomains[] = {{100, 101, {102, 103}}, {200, 201, {202}}};
const uint16_t kAllVlans[] = {1, 2, 100, 101, 102, 103, 200, 201, 202};

struct Member {
    PortConfig config;
    std::set<uint16_t> receives;            // VLANs the oracle lets this port receive
    std::optional<uint16_t> sends_untagged; // VLAN of its untagged frames (nullopt: dropped)
};

Member random_member(std::mt19937& random) {
    Member m;
    PortConfig& c = m.config;
    const Domain& d = kDomains[random() % 2];
    switch (random() % 6) {
    case 0: { // access
        uint16_t vlan = static_cast<uint16_t>(1 + random() % 2);
        c.vlan.access_vlan = vlan;
        m.receives = {vlan};
        m.sends_untagged = vlan;
        break;
    }
    case 1: { // trunk
        c.vlan.mode = VlanMode::trunk;
        c.vlan.native_vlan = 1;
        m.receives = {1};
        for (uint16_t vlan : kAllVlans)
            if (random() % 2) {
                c.vlan.allowed_vlans.add(vlan);
                m.receives.insert(vlan);
            }
        m.sends_untagged = 1;
        break;
    }
    case 2: { // promiscuous with a random subset of its secondaries
        c.vlan.mode = VlanMode::private_vlan;
        c.vlan.pvlan_mode = PvlanMode::promiscuous;
        c.vlan.primary_vlan = d.primary;
        m.receives = {d.primary};
        std::vector<uint16_t> secondaries = d.communities;
        secondaries.push_back(d.isolated);
        for (uint16_t vlan : secondaries)
            if (random() % 3 != 0) {
                c.vlan.promiscuous_secondaries.add(vlan);
                m.receives.insert(vlan);
            }
        m.sends_untagged = d.primary;
        break;
    }
    case 3:
    case 4: { // community
        uint16_t community = d.communities[random() % d.communities.size()];
        c.vlan.mode = VlanMode::private_vlan;
        c.vlan.pvlan_mode = PvlanMode::community;
        c.vlan.primary_vlan = d.primary;
        c.vlan.secondary_vlan = community;
        m.receives = {d.primary, community};
        m.sends_untagged = community;
        break;
    }
    default: // isolated
        c.vlan.mode = VlanMode::private_vlan;
        c.vlan.pvlan_mode = PvlanMode::isolated;
        c.vlan.primary_vlan = d.primary;
        c.vlan.secondary_vlan = d.isolated;
        m.receives = {d.primary};
        m.sends_untagged = d.isolated;
        break;
    }
    return m;
}

TEST(VswitchIsolation, RandomVlanAndPvlanTopologiesNeverLeak) {
    std::mt19937 random(2024);
    uint64_t delivered_total = 0;
    for (int round = 0; round < 25; ++round) {
        Harness h;
        std::vector<Member> members;
        std::vector<PortId> ids;
        for (int i = 0; i < 10; ++i) {
            Member m = random_member(random);
            PortId id = h.add(m.config);
            ASSERT_NE(id, kNoPort);
            members.push_back(m);
            ids.push_back(id);
        }
        for (int n = 0; n < 400; ++n) {
            size_t in = random() % ids.size();
            const Member& sender = members[in];
            uint8_t src = static_cast<uint8_t>(1 + random() % 16);
            uint8_t dst = random() % 4 == 0 ? 0 : static_cast<uint8_t>(1 + random() % 16);
            bool trunk = sender.config.vlan.mode == VlanMode::trunk;
            std::optional<uint16_t> tag;
            if (trunk && random() % 3 != 0)
                tag = kAllVlans[random() % std::size(kAllVlans)];
            Bytes bytes = tag ? arp_frame(mac(src), 1, mac(src), ip4(10, 0, 0, src),
                                          ip4(10, 0, 0, dst), mac(dst), {{*tag}})
                              : arp_frame(mac(src), 1, mac(src), ip4(10, 0, 0, src),
                                          ip4(10, 0, 0, dst), mac(dst));
            if (dst == 0)
                std::fill(bytes.begin(), bytes.begin() + 6, 0xFF);
            std::optional<uint16_t> vlan = sender.sends_untagged;
            if (tag)
                vlan = (*tag == sender.config.vlan.native_vlan ||
                        sender.config.vlan.allowed_vlans.contains(*tag))
                           ? tag
                           : std::nullopt;
            uint64_t drops_before = h.sw().drops().total();
            h.send(ids[in], bytes);
            size_t delivered = 0;
            for (size_t out = 0; out < ids.size(); ++out) {
                for (const Bytes& got : h.received(ids[out])) {
                    ++delivered_total;
                    ++delivered;
                    ASSERT_NE(out, in);
                    ASSERT_TRUE(vlan.has_value());
                    ASSERT_TRUE(members[out].receives.count(*vlan))
                        << "VLAN " << *vlan << " leaked to port " << out;
                    bool tagged_out = load_be16(got.data() + 12) == ethertype::vlan;
                    bool expect_tag = members[out].config.vlan.mode == VlanMode::trunk &&
                                      *vlan != members[out].config.vlan.native_vlan;
                    ASSERT_EQ(tagged_out, expect_tag);
                    if (tagged_out)
                        ASSERT_EQ(tci_vlan_id(load_be16(got.data() + 14)), *vlan);
                }
            }
            // Every frame is accounted for: delivered somewhere, or dropped with a reason.
            if (delivered == 0)
                ASSERT_GT(h.sw().drops().total(), drops_before);
        }
        ASSERT_EQ(h.pool().pool().available(), h.pool().pool().size());
    }
    EXPECT_GT(delivered_total, 1000u); // the property was exercised, not vacuously true
}

TEST(VswitchIsolation, RandomVirtualSubnetsNeverLeak) {
    std::mt19937 random(99);
    const uint32_t vsids[] = {0, 0x5001, 0x6001};
    uint64_t delivered_total = 0;
    for (int round = 0; round < 20; ++round) {
        Harness h;
        std::vector<PortConfig> configs;
        std::vector<PortId> ids;
        PortConfig uplink;
        uplink.kind = PortKind::external;
        configs.push_back(uplink);
        ids.push_back(h.add(uplink));
        for (int i = 0; i < 8; ++i) {
            PortConfig c;
            c.vsid = vsids[random() % 3];
            configs.push_back(c);
            ids.push_back(h.add(c));
        }
        for (int n = 0; n < 300; ++n) {
            size_t in = random() % ids.size();
            uint8_t src = static_cast<uint8_t>(1 + random() % 16);
            uint8_t dst = random() % 4 == 0 ? 0 : static_cast<uint8_t>(1 + random() % 16);
            Bytes bytes = arp_frame(mac(src), 1, mac(src), ip4(10, 0, 0, src), ip4(10, 0, 0, dst),
                                    dst == 0 ? kBroadcastMac : mac(dst));
            h.send(ids[in], bytes);
            for (size_t out = 0; out < ids.size(); ++out) {
                for (const Bytes& got : h.received(ids[out])) {
                    (void)got;
                    ++delivered_total;
                    ASSERT_NE(out, in);
                    ASSERT_EQ(configs[out].vsid, configs[in].vsid) << "crossed virtual subnets";
                }
            }
        }
    }
    EXPECT_GT(delivered_total, 500u);
}

} // namespace
} // namespace halcyon::vswitch
