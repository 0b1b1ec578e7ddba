// NVGRE inside the real switch pipeline: a VM on virtual subnet 5001 reaches a CA on another host
// through the external port as NVGRE, NVGRE from that host is decapsulated to the VM, the VM's ARP
// is answered by the switch itself, and nothing unknown leaks onto the provider network.
#include "vswitch/nvgre/network_virtualization.hpp"
#include "vswitch_test_packets.hpp"

#include <gtest/gtest.h>

namespace {

using namespace halcyon::vswitch;
using namespace halcyon::vswitch::test;
namespace nv = halcyon::vswitch::nvgre;

constexpr nv::RoutingDomainId kBlue{0x1111111122223333ull, 0x4444000000000001ull};

nv::NetAddress net(Ipv4Address a) {
    return nv::NetAddress::v4(static_cast<uint8_t>(a.value >> 24),
                              static_cast<uint8_t>(a.value >> 16),
                              static_cast<uint8_t>(a.value >> 8), static_cast<uint8_t>(a.value));
}

struct VswitchVirtualizedHost : ::testing::Test {
    Harness h;
    PortId uplink = kNoPort, vm = kNoPort;
    std::vector<nv::RecordSlot> records = std::vector<nv::RecordSlot>(64);
    std::vector<nv::SubnetSlot> subnets = std::vector<nv::SubnetSlot>(8);
    nv::PolicyTable policy = nv::PolicyTable::create(records, subnets).release_value();
    std::unique_ptr<nv::NetworkVirtualization> hook;

    const MacAddress host_mac = mac(0xA1), peer_mac = mac(0xA2), router_mac = mac(0xFE);
    const MacAddress sql_mac = mac(1), web_mac = mac(2);
    const Ipv4Address host_pa = ip4(192, 168, 1, 10), peer_pa = ip4(192, 168, 1, 12);
    const Ipv4Address sql = ip4(10, 1, 1, 11), web = ip4(10, 1, 1, 12), gateway = ip4(10, 1, 1, 1);

    void SetUp() override {
        PortConfig external;
        external.kind = PortKind::external;
        uplink = h.add(external);
        PortConfig virtualized;
        virtualized.vsid = 5001;
        vm = h.add(virtualized);
        ASSERT_NE(vm, kNoPort);
        ASSERT_FALSE(policy.set_subnet({5001, kBlue, net(gateway), true}).is_error());
        ASSERT_FALSE(policy.set_record({kBlue, 5001, net(sql), sql_mac, net(host_pa)}).is_error());
        ASSERT_FALSE(policy.set_record({kBlue, 5001, net(web), web_mac, net(peer_pa)}).is_error());
        nv::ProviderConfig config;
        config.router_mac = router_mac;
        hook = std::make_unique<nv::NetworkVirtualization>(policy, config);
        ASSERT_FALSE(hook->add_local_provider_address(net(host_pa), host_mac).is_error());
        ASSERT_FALSE(hook->set_provider_neighbor(net(peer_pa), peer_mac).is_error());
        h.sw().set_nvgre_hook(hook.get());
    }
};

TEST_F(VswitchVirtualizedHost, CustomerTrafficLeavesAsNvgreAndComesBackDecapsulated) {
    const Bytes outbound = udp4_frame(web_mac, sql_mac, sql, web, 40000, 1433, Bytes(64, 7));
    h.send(vm, outbound);
    std::vector<Bytes> wire = h.received(uplink);
    ASSERT_EQ(wire.size(), 1u);
    const Bytes& packet = wire[0];
    ASSERT_EQ(packet.size(), outbound.size() + nv::kOuterIpv4Overhead);
    EXPECT_EQ(MacAddress::from(packet.data()), peer_mac);
    EXPECT_EQ(load_be16(packet.data() + 14 + 20), 0x2000);
    EXPECT_EQ(load_be16(packet.data() + 14 + 22), 0x6558);
    EXPECT_EQ(load_be32(packet.data() + 14 + 24) >> 8, 5001u);
    EXPECT_TRUE(ipv4_header_checksum_valid({packet.data() + 14, 20}));
    EXPECT_EQ(Bytes(packet.begin() + nv::kOuterIpv4Overhead, packet.end()), outbound);

    // The reply from the peer host, NVGRE as the test builder writes it.
    const Bytes reply = udp4_frame(sql_mac, web_mac, web, sql, 1433, 40000, Bytes(32, 9));
    h.send(uplink, nvgre_frame(host_mac, peer_mac, peer_pa, host_pa, 5001, 0x42, reply));
    std::vector<Bytes> delivered = h.received(vm);
    ASSERT_EQ(delivered.size(), 1u);
    EXPECT_EQ(delivered[0], reply);
    EXPECT_EQ(hook->statistics().encapsulated, 1u);
    EXPECT_EQ(hook->statistics().decapsulated, 1u);
}

TEST_F(VswitchVirtualizedHost, ArpIsAnsweredByTheSwitch) {
    h.send(vm, arp_frame(sql_mac, 1, sql_mac, sql, gateway));
    std::vector<Bytes> replies = h.received(vm);
    ASSERT_EQ(replies.size(), 1u);
    EXPECT_EQ(MacAddress::from(replies[0].data()), sql_mac);
    EXPECT_EQ(MacAddress::from(replies[0].data() + 6), router_mac);
    EXPECT_EQ(load_be16(replies[0].data() + 14 + 6), 2);
    EXPECT_EQ(h.count(uplink), 0u) << "customer ARP never reaches the provider network";
}

TEST_F(VswitchVirtualizedHost, PolicyMissesAreDroppedAndCounted) {
    h.send(vm, udp4_frame(web_mac, sql_mac, sql, ip4(10, 1, 1, 99), 1, 2));
    h.send(vm, arp_frame(sql_mac, 1, sql_mac, sql, ip4(10, 1, 1, 99)));
    EXPECT_EQ(h.count(uplink), 0u);
    EXPECT_EQ(h.drops(DropReason::nvgre_no_route), 2u);
    // NVGRE for the VM from a PA policy does not give the sender.
    const Bytes reply = udp4_frame(sql_mac, web_mac, web, sql, 1433, 40000);
    h.send(uplink, nvgre_frame(host_mac, peer_mac, ip4(192, 168, 1, 66), host_pa, 5001, 1, reply));
    EXPECT_EQ(h.count(vm), 0u);
    EXPECT_EQ(h.drops(DropReason::nvgre_no_policy), 1u);
}

nv::NetAddress net6(const Ipv6Address& a) {
    return nv::NetAddress::from_wire_v6(a.bytes.data());
}

TEST_F(VswitchVirtualizedHost, Ipv6CustomersResolveFromPolicyAndTunnel) {
    const Ipv6Address sql6 = ip6(0x11), web6 = ip6(0x12);
    ASSERT_FALSE(policy.set_record({kBlue, 5001, net6(sql6), sql_mac, net(host_pa)}).is_error());
    ASSERT_FALSE(policy.set_record({kBlue, 5001, net6(web6), web_mac, net(peer_pa)}).is_error());

    // Neighbor Solicitation for WEB's address: the switch advertises WEB's MAC itself.
    h.send(vm, neighbor_solicitation(sql_mac, sql6, web6, sql_mac));
    std::vector<Bytes> answers = h.received(vm);
    ASSERT_EQ(answers.size(), 1u);
    const Bytes& na = answers[0];
    ASSERT_EQ(na.size(), 86u);
    EXPECT_EQ(MacAddress::from(na.data()), sql_mac);
    EXPECT_EQ(MacAddress::from(na.data() + 6), web_mac);
    EXPECT_EQ(na[14 + 7], 255) << "hop limit of Neighbor Discovery";
    EXPECT_EQ(na[54], 136) << "Neighbor Advertisement";
    EXPECT_EQ(na[58], 0x60) << "Solicited + Override, not Router";
    EXPECT_EQ(Ipv6Address::from(na.data() + 54 + 8), web6);
    EXPECT_EQ(na[54 + 24], 2) << "target link-layer address option";
    EXPECT_EQ(MacAddress::from(na.data() + 54 + 26), web_mac);
    const uint32_t pseudo = pseudo_header_ipv6(web6, sql6, ip_protocol::icmpv6, 32);
    EXPECT_TRUE(checksum_verifies({na.data() + 54, 32}, pseudo));
    EXPECT_EQ(h.count(uplink), 0u);

    // Duplicate address detection (unspecified source) is not answered.
    h.send(vm, neighbor_solicitation(sql_mac, Ipv6Address{}, web6, std::nullopt));
    EXPECT_EQ(hook->statistics().arp_replies, 1u);

    // IPv6 customer traffic crosses the IPv4 provider network.
    const Bytes outbound = udp6_frame(web_mac, sql_mac, sql6, web6, 5000, 6000, Bytes(40, 1));
    h.send(vm, outbound);
    std::vector<Bytes> wire = h.received(uplink);
    ASSERT_EQ(wire.size(), 1u);
    EXPECT_EQ(Bytes(wire[0].begin() + nv::kOuterIpv4Overhead, wire[0].end()), outbound);
}

} // namespace
