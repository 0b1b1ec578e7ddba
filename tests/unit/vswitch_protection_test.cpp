// Port protection: MAC spoofing, ARP spoofing, ND spoofing, DHCP guard, router guard and
// broadcast/multicast storm limits. Each attack is dropped with its own reason counter, and the
// legitimate version of the same traffic still passes.
#include "tests/unit/vswitch_test_packets.hpp"

#include <gtest/gtest.h>

namespace halcyon::vswitch {
namespace {

using namespace test;

constexpr uint64_t kSecond = 1'000'000'000;

// A VM port that owns MAC 1, 10.0.0.1, 2001:db8::1 and fe80::1.
PortConfig guarded_vm() {
    PortConfig config;
    ProtectionConfig& p = config.protection;
    p.mac_spoofing_guard = true;
    p.arp_guard = true;
    p.nd_guard = true;
    p.dhcp_guard = true;
    p.router_guard = true;
    p.macs[0] = mac(1);
    p.mac_count = 1;
    p.ipv4[0] = ip4(10, 0, 0, 1);
    p.ipv4_count = 1;
    p.ipv6[0] = ip6(1);
    p.ipv6[1] = ip6_link_local(1);
    p.ipv6_count = 2;
    return config;
}

struct VswitchGuarded : ::testing::Test {
    Harness h;
    PortId vm = h.add(guarded_vm());
    PortId peer = h.add_vm();

    // Sends and reports whether the peer received it.
    bool passes(const Bytes& bytes) {
        h.send(vm, bytes);
        return h.count(peer) == 1;
    }
};

TEST_F(VswitchGuarded, MacSpoofing) {
    EXPECT_TRUE(passes(udp4_frame(mac(9), mac(1), ip4(10, 0, 0, 1), ip4(10, 0, 0, 9), 1, 2)));
    EXPECT_FALSE(passes(udp4_frame(mac(9), mac(2), ip4(10, 0, 0, 1), ip4(10, 0, 0, 9), 1, 2)));
    EXPECT_EQ(h.port_drops(vm, DropReason::mac_spoof), 1u);
    // The spoofed source was never learned.
    EXPECT_EQ(h.sw().lookup_mac(0, mac(2), 1), kNoPort);
}

TEST_F(VswitchGuarded, ArpSpoofing) {
    EXPECT_TRUE(passes(
        arp_frame(mac(1), arp_operation::request, mac(1), ip4(10, 0, 0, 1), ip4(10, 0, 0, 9))));
    // Gratuitous ARP claiming someone else's IP (the seeds' poisoning attack).
    EXPECT_FALSE(passes(
        arp_frame(mac(1), arp_operation::reply, mac(1), ip4(10, 0, 0, 9), ip4(10, 0, 0, 9))));
    // Sender hardware address differing from the Ethernet source.
    EXPECT_FALSE(passes(
        arp_frame(mac(1), arp_operation::reply, mac(7), ip4(10, 0, 0, 1), ip4(10, 0, 0, 9))));
    // ARP probe (sender IP 0.0.0.0) is fine as a request, not as a reply.
    EXPECT_TRUE(passes(
        arp_frame(mac(1), arp_operation::request, mac(1), ip4(0, 0, 0, 0), ip4(10, 0, 0, 1))));
    EXPECT_FALSE(
        passes(arp_frame(mac(1), arp_operation::reply, mac(1), ip4(0, 0, 0, 0), ip4(10, 0, 0, 1))));
    EXPECT_EQ(h.port_drops(vm, DropReason::arp_spoof), 3u);
}

TEST_F(VswitchGuarded, NdSpoofing) {
    EXPECT_TRUE(passes(neighbor_advertisement(mac(1), ip6_link_local(1), ip6(1), mac(1))));
    EXPECT_TRUE(passes(neighbor_solicitation(mac(1), ip6(1), ip6(9), mac(1))));
    EXPECT_TRUE(passes(neighbor_solicitation(mac(1), Ipv6Address{}, ip6(1), std::nullopt))); // DAD
    // Unsolicited NA for an address the port does not own.
    EXPECT_FALSE(passes(neighbor_advertisement(mac(1), ip6_link_local(1), ip6(9), mac(1))));
    // NA for its own address but binding it to another MAC.
    EXPECT_FALSE(passes(neighbor_advertisement(mac(1), ip6_link_local(1), ip6(1), mac(7))));
    // NS from an address it does not own.
    EXPECT_FALSE(passes(neighbor_solicitation(mac(1), ip6(9), ip6(5), mac(1))));
    EXPECT_EQ(h.port_drops(vm, DropReason::nd_spoof), 3u);
}

TEST_F(VswitchGuarded, NdOptionWithZeroLengthIsRejected) {
    Bytes body = nd_body(ip6(1), std::nullopt, 0);
    put(body, Bytes{nd_option::target_link_layer_address, 0, 0, 0, 0, 0, 0, 0});
    EXPECT_FALSE(passes(icmp6_frame(ipv6_multicast_mac(ip6_all_nodes()), mac(1), ip6(1),
                                    ip6_all_nodes(), icmpv6_type::neighbor_advertisement, body)));
    EXPECT_EQ(h.port_drops(vm, DropReason::nd_spoof), 1u);
}

TEST_F(VswitchGuarded, DhcpGuard) {
    // Client traffic passes.
    EXPECT_TRUE(passes(udp4_frame(kBroadcastMac, mac(1), ip4(10, 0, 0, 1), ip4(255, 255, 255, 255),
                                  68, 67, Bytes(240, 0))));
    // A DHCPv4 offer from this port (a rogue server).
    EXPECT_FALSE(passes(udp4_frame(kBroadcastMac, mac(1), ip4(10, 0, 0, 1), ip4(255, 255, 255, 255),
                                   67, 68, Bytes(240, 0))));
    // DHCPv6: a client's Solicit passes, an Advertise/Reply is dropped.
    Ipv6Address servers{};
    servers.bytes = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2};
    EXPECT_TRUE(passes(udp6_frame(ipv6_multicast_mac(servers), mac(1), ip6_link_local(1), servers,
                                  546, 547, {1, 0, 0, 1})));
    EXPECT_FALSE(passes(udp6_frame(mac(9), mac(1), ip6_link_local(1), ip6_link_local(9), 547, 546,
                                   {dhcpv6_message::advertise, 0, 0, 1})));
    EXPECT_FALSE(passes(udp6_frame(mac(9), mac(1), ip6_link_local(1), ip6_link_local(9), 547, 9999,
                                   {dhcpv6_message::reply, 0, 0, 1})));
    EXPECT_EQ(h.port_drops(vm, DropReason::dhcp_guard), 3u);
}

TEST_F(VswitchGuarded, RouterGuard) {
    EXPECT_TRUE(passes(icmp4_frame(mac(9), mac(1), ip4(10, 0, 0, 1), ip4(10, 0, 0, 9),
                                   icmpv4_type::echo_request)));
    EXPECT_FALSE(passes(
        icmp4_frame(mac(9), mac(1), ip4(10, 0, 0, 1), ip4(10, 0, 0, 9), icmpv4_type::redirect)));
    EXPECT_FALSE(
        passes(icmp6_frame(ipv6_multicast_mac(ip6_all_nodes()), mac(1), ip6_link_local(1),
                           ip6_all_nodes(), icmpv6_type::router_advertisement, Bytes(8, 0))));
    EXPECT_FALSE(passes(icmp6_frame(mac(9), mac(1), ip6_link_local(1), ip6_link_local(9),
                                    icmpv6_type::redirect, Bytes(36, 0))));
    EXPECT_TRUE(passes(icmp6_frame(mac(9), mac(1), ip6_link_local(1), ip6_link_local(9),
                                   icmpv6_type::router_solicitation, Bytes(4, 0))));
    EXPECT_EQ(h.port_drops(vm, DropReason::router_guard), 3u);
}

TEST(VswitchProtection, AuthorizedPortsMaySendServerTraffic) {
    Harness h;
    PortConfig server; // guards off: this port is a designated DHCP server and router
    PortId vm = h.add(server);
    PortId peer = h.add_vm();
    h.send(vm, udp4_frame(kBroadcastMac, mac(1), ip4(10, 0, 0, 1), ip4(255, 255, 255, 255), 67, 68,
                          Bytes(240, 0)));
    h.send(vm, icmp6_frame(ipv6_multicast_mac(ip6_all_nodes()), mac(1), ip6_link_local(1),
                           ip6_all_nodes(), icmpv6_type::router_advertisement, Bytes(8, 0)));
    EXPECT_EQ(h.count(peer), 2u);
    EXPECT_EQ(h.sw().drops().total(), 0u);
}

TEST(VswitchProtection, BroadcastAndMulticastStormLimits) {
    Harness h;
    PortConfig limited;
    limited.storm = {100, 10, 50, 5}; // broadcast 100 pps burst 10, multicast 50 pps burst 5
    PortId vm = h.add(limited);
    PortId peer = h.add_vm();
    Bytes broadcast = arp_frame(mac(1), 1, mac(1), ip4(10, 0, 0, 1), ip4(10, 0, 0, 2));
    Bytes multicast = udp4_frame(MacAddress{{0x01, 0, 0x5e, 0, 0, 1}}, mac(1), ip4(10, 0, 0, 1),
                                 ip4(224, 0, 0, 1), 1, 2);
    Bytes unicast = udp4_frame(mac(2), mac(1), ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 1, 2);
    for (int i = 0; i < 30; ++i) {
        h.send(vm, broadcast, kSecond);
        h.send(vm, multicast, kSecond);
        h.send(vm, unicast, kSecond); // unicast is never storm-limited
    }
    EXPECT_EQ(h.port_drops(vm, DropReason::storm_limit), 20u + 25u);
    EXPECT_EQ(h.count(peer), 10u + 5u + 30u);
    // 100 ms later the broadcast bucket has 10 new tokens, the multicast one 5.
    for (int i = 0; i < 30; ++i) {
        h.send(vm, broadcast, kSecond + kSecond / 10);
        h.send(vm, multicast, kSecond + kSecond / 10);
    }
    EXPECT_EQ(h.count(peer), 15u);
}

} // namespace
} // namespace halcyon::vswitch
