// The flow caches inside the real switch: with NVGRE flow caches and the ACL classification cache
// in use, every change of the switch's state takes effect on the next packet of a flow whose
// decision is cached — a VM's MAC moving to another port, a port removed (and its id reused in
// another virtual subnet), a port moved to another virtual subnet, ACL rules replaced in either
// direction — and stateful flows and meters still see every packet.
#include "vswitch/acl/acl_hook.hpp"
#include "vswitch/nvgre/network_virtualization.hpp"
#include "vswitch_test_packets.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace {

using namespace halcyon::vswitch;
using namespace halcyon::vswitch::test;
namespace nv = halcyon::vswitch::nvgre;
namespace acl = halcyon::vswitch::acl;

constexpr nv::RoutingDomainId kBlue{1, 1}, kYellow{1, 2};

nv::NetAddress net(Ipv4Address a) {
    return nv::NetAddress::v4(static_cast<uint8_t>(a.value >> 24),
                              static_cast<uint8_t>(a.value >> 16),
                              static_cast<uint8_t>(a.value >> 8), static_cast<uint8_t>(a.value));
}

struct VswitchCachedSwitch : ::testing::Test {
    Harness h;
    PortId uplink = kNoPort, vm1 = kNoPort, vm2 = kNoPort, vm3 = kNoPort;
    std::vector<nv::RecordSlot> records = std::vector<nv::RecordSlot>(64);
    std::vector<nv::SubnetSlot> subnets = std::vector<nv::SubnetSlot>(8);
    nv::PolicyTable policy = nv::PolicyTable::create(records, subnets).release_value();
    std::vector<nv::CustomerFlowEntry> customer_flows = std::vector<nv::CustomerFlowEntry>(64);
    std::vector<nv::ProviderFlowEntry> provider_flows = std::vector<nv::ProviderFlowEntry>(64);
    std::unique_ptr<nv::NetworkVirtualization> hook;

    const MacAddress host_mac = mac(0xA1), peer_mac = mac(0xA2);
    const MacAddress sql_mac = mac(1), web_mac = mac(2);
    const Ipv4Address host_pa = ip4(192, 168, 1, 10), peer_pa = ip4(192, 168, 1, 12);
    const Ipv4Address sql = ip4(10, 1, 1, 11), web = ip4(10, 1, 1, 12);

    void SetUp() override {
        PortConfig external;
        external.kind = PortKind::external;
        uplink = h.add(external);
        PortConfig blue;
        blue.vsid = 5001;
        vm1 = h.add(blue);
        vm2 = h.add(blue);
        PortConfig yellow;
        yellow.vsid = 6001;
        vm3 = h.add(yellow);
        ASSERT_NE(vm3, kNoPort);
        // Yellow reuses blue's addresses and MACs: only the VSID tells them apart.
        for (auto [domain, vsid] : {std::pair{kBlue, 5001u}, std::pair{kYellow, 6001u}}) {
            ASSERT_FALSE(policy.set_subnet({vsid, domain, {}, false}).is_error());
            ASSERT_FALSE(
                policy.set_record({domain, vsid, net(sql), sql_mac, net(host_pa)}).is_error());
            ASSERT_FALSE(
                policy.set_record({domain, vsid, net(web), web_mac, net(peer_pa)}).is_error());
        }
        hook = std::make_unique<nv::NetworkVirtualization>(policy, nv::ProviderConfig{});
        ASSERT_FALSE(hook->add_local_provider_address(net(host_pa), host_mac).is_error());
        ASSERT_FALSE(hook->set_provider_neighbor(net(peer_pa), peer_mac).is_error());
        ASSERT_FALSE(hook->set_flow_caches(customer_flows, provider_flows).is_error());
        h.sw().set_nvgre_hook(hook.get());
    }

    Bytes from_web(uint32_t vsid, uint16_t port = 1433) {
        const Bytes inner = udp4_frame(sql_mac, web_mac, web, sql, port, 40000, Bytes(20, 3));
        return nvgre_frame(host_mac, peer_mac, peer_pa, host_pa, vsid, 7, inner);
    }
    Bytes to_web() { return udp4_frame(web_mac, sql_mac, sql, web, 40000, 1433); }
    // Where a decapsulated frame for SQL went: the ports that received one, and nothing else.
    std::vector<PortId> deliveries() {
        std::vector<PortId> to;
        for (PortId port : {uplink, vm1, vm2, vm3})
            if (h.sw().port_config(port) != nullptr)
                for (size_t n = h.count(port); n > 0; --n)
                    to.push_back(port);
        return to;
    }
};

TEST_F(VswitchCachedSwitch, AMacMoveRedirectsTheNextDecapsulatedPacket) {
    h.send(vm1, to_web()); // SQL is learnt on vm1
    ASSERT_EQ(h.count(uplink), 1u);
    for (int i = 0; i < 3; ++i) {
        h.send(uplink, from_web(5001));
        EXPECT_EQ(deliveries(), std::vector<PortId>{vm1});
    }
    const uint64_t hits = hook->flow_cache_statistics().hits;
    EXPECT_GE(hits, 2u);
    h.send(vm2, to_web()); // SQL's MAC moves to vm2
    h.received(uplink);
    h.send(uplink, from_web(5001));
    EXPECT_EQ(deliveries(), std::vector<PortId>{vm2});
    EXPECT_GT(hook->flow_cache_statistics().hits, hits) << "the decision itself stayed cached";
}

TEST_F(VswitchCachedSwitch, ARemovedPortGetsNothingAndItsReusedIdGetsNoStaleTraffic) {
    h.send(vm1, to_web());
    h.received(uplink);
    h.send(uplink, from_web(5001));
    h.send(uplink, from_web(5001));
    ASSERT_EQ(h.count(vm1), 2u);
    ASSERT_FALSE(h.sw().remove_port(vm1).is_error());
    // SQL's MAC went with the port: the next packet floods within VSID 5001 only.
    h.send(uplink, from_web(5001));
    EXPECT_EQ(deliveries(), std::vector<PortId>{vm2});
    // The id comes back as a yellow port: blue traffic must not reach it, yellow must.
    PortConfig yellow;
    yellow.vsid = 6001;
    ASSERT_EQ(h.add(yellow), vm1);
    h.send(uplink, from_web(5001));
    EXPECT_EQ(deliveries(), std::vector<PortId>{vm2});
    h.send(uplink, from_web(6001));
    std::vector<PortId> yellow_ports = deliveries();
    std::sort(yellow_ports.begin(), yellow_ports.end());
    EXPECT_EQ(yellow_ports, (std::vector<PortId>{vm1, vm3}));
}

TEST_F(VswitchCachedSwitch, APortMovedToAnotherVirtualSubnetUsesThatSubnetsPolicy) {
    for (int i = 0; i < 2; ++i)
        h.send(vm1, to_web());
    std::vector<Bytes> wire = h.received(uplink);
    ASSERT_EQ(wire.size(), 2u);
    EXPECT_EQ(load_be32(wire[1].data() + 14 + 24) >> 8, 5001u);
    PortConfig yellow;
    yellow.vsid = 6001;
    ASSERT_FALSE(h.sw().configure_port(vm1, yellow).is_error());
    h.send(vm1, to_web());
    wire = h.received(uplink);
    ASSERT_EQ(wire.size(), 1u);
    EXPECT_EQ(load_be32(wire[0].data() + 14 + 24) >> 8, 6001u) << "the same frame, now yellow";
}

TEST_F(VswitchCachedSwitch, DecapsulatedFramesStayInTheirVirtualSubnet) {
    h.send(vm1, to_web()); // blue SQL on vm1
    h.send(vm3, to_web()); // yellow SQL (same MAC) on vm3
    h.received(uplink);
    for (int i = 0; i < 4; ++i) {
        h.send(uplink, from_web(5001, static_cast<uint16_t>(i)));
        EXPECT_EQ(deliveries(), std::vector<PortId>{vm1});
        h.send(uplink, from_web(6001, static_cast<uint16_t>(i)));
        EXPECT_EQ(deliveries(), std::vector<PortId>{vm3});
    }
}

// ---- Port ACLs with the classification cache ----

struct OwnedAcl {
    std::vector<std::byte> memory;
    acl::PortAcl port_acl;
    explicit OwnedAcl(acl::AclLimits limits = {64, 64, 64})
        : memory(acl::PortAcl::memory_bytes(limits)),
          port_acl(acl::PortAcl::create(limits, memory).release_value()) {}
};

acl::Rule udp_rule(uint32_t id, acl::Direction direction, acl::Action action, uint32_t weight) {
    acl::Rule rule;
    rule.id = id;
    rule.direction = direction;
    rule.action = action;
    rule.weight = weight;
    rule.family = acl::AddressFamily::ipv4;
    rule.match_protocol = true;
    rule.protocol = acl::kProtocolUdp;
    return rule;
}

struct VswitchCachedAcl : ::testing::Test {
    Harness h;
    PortId a = h.add_vm(10), b = h.add_vm(10);
    OwnedAcl owned_a, owned_b;
    acl::PortAclHook hook;
    const MacAddress a_mac = mac(1), b_mac = mac(2);
    const Ipv4Address a_ip = ip4(10, 0, 0, 1), b_ip = ip4(10, 0, 0, 2);

    void SetUp() override {
        ASSERT_FALSE(hook.attach(a, &owned_a.port_acl).is_error());
        ASSERT_FALSE(hook.attach(b, &owned_b.port_acl).is_error());
        h.sw().set_acl_hook(&hook);
        h.send(a, arp_frame(a_mac, 1, a_mac, a_ip, b_ip));
        h.send(b, arp_frame(b_mac, 1, b_mac, b_ip, a_ip));
        h.received(a);
        h.received(b);
    }
    Bytes a_to_b() { return udp4_frame(b_mac, a_mac, a_ip, b_ip, 5000, 53); }
    Bytes b_to_a() { return udp4_frame(a_mac, b_mac, b_ip, a_ip, 53, 5000); }
};

TEST_F(VswitchCachedAcl, ReplacedRulesDecideTheNextPacketOfACachedFlowInBothDirections) {
    std::vector<acl::Rule> rules = {
        udp_rule(1, acl::Direction::both, acl::Action::allow, 1),
        udp_rule(2, acl::Direction::both, acl::Action::meter, 0),
    };
    ASSERT_FALSE(owned_a.port_acl.set_rules(rules).is_error());
    ASSERT_FALSE(owned_b.port_acl.set_rules(rules).is_error());
    for (int i = 0; i < 3; ++i) {
        h.send(a, a_to_b()); // outbound at a, inbound at b
        h.send(b, b_to_a());
    }
    EXPECT_EQ(h.count(a), 3u);
    EXPECT_EQ(h.count(b), 3u);
    EXPECT_EQ(owned_a.port_acl.counters_for_id(2).value().packets, 6u) << "meters count hits";
    EXPECT_EQ(owned_b.port_acl.counters_for_id(1).value().packets, 6u);

    rules[0].action = acl::Action::deny; // a's outbound and inbound UDP now denied
    ASSERT_FALSE(owned_a.port_acl.set_rules(rules).is_error());
    h.send(a, a_to_b());
    EXPECT_EQ(h.count(b), 0u) << "a's outbound";
    h.send(b, b_to_a());
    EXPECT_EQ(h.count(a), 0u) << "a's inbound";
    EXPECT_EQ(h.drops(DropReason::acl_deny), 2u);
    EXPECT_EQ(owned_b.port_acl.counters_for_id(1).value().packets, 7u) << "b's outbound passed";
    EXPECT_EQ(owned_a.port_acl.counters_for_id(1).value().packets, 8u);
    EXPECT_EQ(owned_a.port_acl.counters_for_id(2).value().packets, 8u);
}

TEST_F(VswitchCachedAcl, AStatefulFlowAdmitsWhatTheCachedClassificationDenies) {
    // b denies inbound UDP, but its own outbound UDP opens flows that admit the replies.
    std::vector<acl::Rule> rules = {udp_rule(1, acl::Direction::inbound, acl::Action::deny, 1),
                                    udp_rule(2, acl::Direction::outbound, acl::Action::allow, 1)};
    rules[1].stateful = true;
    ASSERT_FALSE(owned_b.port_acl.set_rules(rules).is_error());
    for (int i = 0; i < 2; ++i)
        h.send(a, a_to_b()); // classified (and cached) as denied at b
    EXPECT_EQ(h.count(b), 0u);
    h.send(b, b_to_a()); // b's outbound: opens the flow
    EXPECT_EQ(h.count(a), 1u);
    for (int i = 0; i < 2; ++i)
        h.send(a, a_to_b()); // the same inbound flow, now admitted by the stateful flow
    EXPECT_EQ(h.count(b), 2u);
    EXPECT_EQ(owned_b.port_acl.statistics().admitted_by_flow, 2u);
    EXPECT_EQ(owned_b.port_acl.counters_for_id(1).value().packets, 2u);
    EXPECT_EQ(owned_b.port_acl.counters_for_id(2).value().packets, 3u);
}

// An ACL built without a classification cache (classification_cache_entries 0) decides every
// frame with evaluate(), alone or in a burst, whatever key the rules would allow.
TEST(VswitchUncachedAcl, DecidesEveryFrameAloneAndInBursts) {
    Harness h;
    const PortId a = h.add_vm(10), b = h.add_vm(10);
    OwnedAcl owned({64, 64, 0});
    ASSERT_FALSE(owned.port_acl.classification_cache_enabled());
    acl::PortAclHook hook;
    ASSERT_FALSE(hook.attach(b, &owned.port_acl).is_error());
    h.sw().set_acl_hook(&hook);
    const MacAddress a_mac = mac(1), b_mac = mac(2);
    const Ipv4Address a_ip = ip4(10, 0, 0, 1), b_ip = ip4(10, 0, 0, 2);
    h.send(b, arp_frame(b_mac, 1, b_mac, b_ip, a_ip)); // b outbound: ARP is not UDP
    h.received(a);
    acl::Rule dns = udp_rule(1, acl::Direction::inbound, acl::Action::allow, 2);
    dns.local_ports = {53, 53}; // inbound at b: the destination port is b's
    const std::vector<acl::Rule> rules = {
        dns, udp_rule(2, acl::Direction::inbound, acl::Action::deny, 1)};
    ASSERT_FALSE(owned.port_acl.set_rules(rules).is_error());

    Burst burst;
    for (uint16_t port : {53, 54, 53, 55})
        (void)burst.push(h.pool().make(udp4_frame(b_mac, a_mac, a_ip, b_ip, 5000, port)));
    h.sw().process(a, burst, 1);
    EXPECT_EQ(h.count(b), 2u);
    h.send(a, udp4_frame(b_mac, a_mac, a_ip, b_ip, 5000, 53));
    h.send(a, udp4_frame(b_mac, a_mac, a_ip, b_ip, 5000, 56));
    EXPECT_EQ(h.count(b), 1u);
    EXPECT_EQ(h.drops(DropReason::acl_deny), 3u);
    EXPECT_EQ(owned.port_acl.counters_for_id(1).value().packets, 3u);
    EXPECT_EQ(owned.port_acl.counters_for_id(2).value().packets, 3u);
}

} // namespace
