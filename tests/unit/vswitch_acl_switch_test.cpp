// Port ACLs inside the real switch pipeline: the hook sees outbound traffic at the source port and
// inbound traffic at each destination port, drops are counted as acl_deny, and a stateful rule on
// one VM admits the replies to its own connections.
#include "vswitch/acl/acl_hook.hpp"
#include "vswitch_test_packets.hpp"

#include <gtest/gtest.h>

namespace {

using namespace halcyon::vswitch;
using namespace halcyon::vswitch::test;
namespace acl = halcyon::vswitch::acl;

struct OwnedAcl {
    std::vector<std::byte> memory;
    acl::PortAcl port_acl;
    explicit OwnedAcl(acl::AclLimits limits = {64, 64})
        : memory(acl::PortAcl::memory_bytes(limits)),
          port_acl(acl::PortAcl::create(limits, memory).release_value()) {}
};

constexpr uint64_t kSecond = 1'000'000'000;

TEST(VswitchAclSwitch, StatefulWebClientBehindThePipeline) {
    Harness h;
    const PortId client = h.add_vm();
    const PortId server = h.add_vm();
    const MacAddress client_mac = mac(1), server_mac = mac(2);
    const Ipv4Address client_ip = ip4(10, 0, 0, 1), server_ip = ip4(10, 0, 0, 2);

    // The client VM may open TCP connections to port 80; nothing else may reach it.
    acl::Rule web;
    web.id = 10;
    web.direction = acl::Direction::outbound;
    web.weight = 10;
    web.family = acl::AddressFamily::ipv4;
    web.match_protocol = true;
    web.protocol = acl::kProtocolTcp;
    web.remote_ports = {80, 80};
    web.stateful = true;
    web.idle_timeout_seconds = 30;
    acl::Rule deny_in;
    deny_in.id = 20;
    deny_in.direction = acl::Direction::inbound;
    deny_in.action = acl::Action::deny;
    deny_in.family = acl::AddressFamily::ipv4;
    OwnedAcl owned;
    std::vector<acl::Rule> rules = {web, deny_in};
    ASSERT_FALSE(owned.port_acl.set_rules(rules).is_error());
    acl::PortAclHook hook;
    ASSERT_FALSE(hook.attach(client, &owned.port_acl).is_error());
    h.sw().set_acl_hook(&hook);

    // Both MACs learnt (ARP is not IPv4, so the deny rule does not apply to it).
    h.send(server, arp_frame(server_mac, 1, server_mac, server_ip, client_ip));
    h.send(client, arp_frame(client_mac, 1, client_mac, client_ip, server_ip));
    h.received(client);
    h.received(server);

    // Unsolicited: the server's SYN to the client is dropped at the client's port.
    h.send(server, tcp4_frame(client_mac, server_mac, server_ip, client_ip, 80, 40000), kSecond);
    EXPECT_EQ(h.count(client), 0u);
    EXPECT_EQ(h.drops(DropReason::acl_deny), 1u);

    // The client connects out; the reply now comes back through the flow.
    h.send(client, tcp4_frame(server_mac, client_mac, client_ip, server_ip, 40000, 80),
           2 * kSecond);
    EXPECT_EQ(h.count(server), 1u);
    h.send(server, tcp4_frame(client_mac, server_mac, server_ip, client_ip, 80, 40000, 0x12),
           3 * kSecond);
    EXPECT_EQ(h.count(client), 1u);
    // Outbound to another port is not covered by the stateful rule but there is no outbound deny.
    h.send(client, udp4_frame(server_mac, client_mac, client_ip, server_ip, 5000, 53), 4 * kSecond);
    EXPECT_EQ(h.count(server), 1u);
    // After 30 s of silence the flow is gone and replies are denied again.
    h.send(server, tcp4_frame(client_mac, server_mac, server_ip, client_ip, 80, 40000, 0x10),
           40 * kSecond);
    EXPECT_EQ(h.count(client), 0u);
    EXPECT_EQ(h.drops(DropReason::acl_deny), 2u);
    EXPECT_EQ(owned.port_acl.counters_for_id(10).value().packets, 2u);
    EXPECT_EQ(owned.port_acl.counters_for_id(20).value().packets, 2u);
}

} // namespace
