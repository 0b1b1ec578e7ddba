// Stateful port ACL rules: an allowed outbound flow admits its return traffic until it has been
// idle for the rule's timeout (measured on an injected clock), for TCP, UDP and ICMP echo; the
// flow table has a fixed capacity and counts what it could not remember.
#include "vswitch/acl/frame_facts.hpp"
#include "vswitch/acl/port_acl.hpp"
#include "vswitch/packet/parser.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace {

using namespace halcyon::vswitch::acl;
namespace vs = halcyon::vswitch;

constexpr uint64_t kSecond = 1'000'000'000ull;

const IpAddress kVm = IpAddress::v4(10, 1, 1, 5);
const IpAddress kServer = IpAddress::v4(93, 184, 216, 34);

struct VswitchAclStateful : ::testing::Test {
    std::vector<std::byte> memory;
    PortAcl acl = make(AclLimits{16, 64});

    PortAcl make(AclLimits limits) {
        memory.resize(PortAcl::memory_bytes(limits));
        return PortAcl::create(limits, memory).release_value();
    }

    // Outbound web and ping are stateful; everything inbound is denied.
    void install(uint32_t timeout_seconds) {
        Rule web;
        web.id = 1;
        web.direction = Direction::outbound;
        web.action = Action::allow;
        web.weight = 10;
        web.family = AddressFamily::ipv4;
        web.match_protocol = true;
        web.protocol = kProtocolTcp;
        web.remote_ports = {80, 80};
        web.stateful = true;
        web.idle_timeout_seconds = timeout_seconds;
        Rule dns = web;
        dns.id = 2;
        dns.protocol = kProtocolUdp;
        dns.remote_ports = {53, 53};
        Rule ping = web;
        ping.id = 3;
        ping.protocol = kProtocolIcmp;
        ping.remote_ports = {};
        Rule deny_in;
        deny_in.id = 4;
        deny_in.direction = Direction::inbound;
        deny_in.action = Action::deny;
        deny_in.weight = 1;
        std::vector<Rule> rules = {web, dns, ping, deny_in};
        ASSERT_FALSE(acl.set_rules(rules).is_error());
    }
};

PacketFacts tcp(Direction direction, IpAddress source, uint16_t source_port, IpAddress destination,
                uint16_t destination_port, uint8_t protocol = kProtocolTcp) {
    PacketFacts p;
    p.direction = direction;
    p.family = AddressFamily::ipv4;
    p.source_address = source;
    p.destination_address = destination;
    p.protocol = protocol;
    p.has_ports = true;
    p.source_port = source_port;
    p.destination_port = destination_port;
    p.length_bytes = 60;
    return p;
}

PacketFacts echo(Direction direction, IpAddress source, IpAddress destination, bool request,
                 uint16_t identifier) {
    PacketFacts p;
    p.direction = direction;
    p.family = AddressFamily::ipv4;
    p.source_address = source;
    p.destination_address = destination;
    p.protocol = kProtocolIcmp;
    p.is_icmp_echo_request = request;
    p.is_icmp_echo_reply = !request;
    p.icmp_echo_identifier = identifier;
    p.length_bytes = 98;
    return p;
}

TEST_F(VswitchAclStateful, ReturnTrafficAdmittedOnlyAfterOutboundFlow) {
    install(30);
    const PacketFacts reply = tcp(Direction::inbound, kServer, 80, kVm, 40000);
    EXPECT_FALSE(acl.evaluate(reply, 0).allowed) << "unsolicited inbound must be denied";

    Verdict syn = acl.evaluate(tcp(Direction::outbound, kVm, 40000, kServer, 80), 1 * kSecond);
    EXPECT_TRUE(syn.allowed);
    EXPECT_EQ(syn.reason, VerdictReason::rule);
    EXPECT_EQ(acl.flow_count(), 1u);

    Verdict back = acl.evaluate(reply, 2 * kSecond);
    EXPECT_TRUE(back.allowed);
    EXPECT_EQ(back.reason, VerdictReason::stateful_flow);
    EXPECT_EQ(back.decided_by_rule, 0); // counted on the stateful rule that opened the flow

    // A different client port, or another server, is not the same flow.
    EXPECT_FALSE(
        acl.evaluate(tcp(Direction::inbound, kServer, 80, kVm, 40001), 2 * kSecond).allowed);
    EXPECT_FALSE(acl.evaluate(tcp(Direction::inbound, IpAddress::v4(1, 2, 3, 4), 80, kVm, 40000),
                              2 * kSecond)
                     .allowed);
    // Same ports but UDP: a different protocol, not admitted.
    EXPECT_FALSE(
        acl.evaluate(tcp(Direction::inbound, kServer, 80, kVm, 40000, kProtocolUdp), 2 * kSecond)
            .allowed);
    EXPECT_EQ(acl.counters_for_id(1).value().packets, 2u);
    EXPECT_EQ(acl.statistics().admitted_by_flow, 1u);
}

TEST_F(VswitchAclStateful, IdleTimeoutClosesTheFlowAndTrafficRefreshesIt) {
    install(10);
    const PacketFacts out = tcp(Direction::outbound, kVm, 40000, kServer, 80);
    const PacketFacts reply = tcp(Direction::inbound, kServer, 80, kVm, 40000);
    ASSERT_TRUE(acl.evaluate(out, 0).allowed);
    // Keep the flow busy past several timeouts: every packet restarts the idle clock.
    for (uint64_t t = 9; t <= 45; t += 9)
        EXPECT_TRUE(acl.evaluate(reply, t * kSecond).allowed) << "t=" << t;
    // Just under the timeout since the last packet (45 s): still open.
    EXPECT_TRUE(acl.evaluate(reply, 45 * kSecond + 10 * kSecond - 1).allowed);
    // 10 s of silence after that: expired, re-inspected against the rules, denied.
    EXPECT_FALSE(acl.evaluate(reply, 65 * kSecond).allowed);
    EXPECT_EQ(acl.flow_count(), 0u);
    // A new outbound packet reopens it.
    EXPECT_TRUE(acl.evaluate(out, 66 * kSecond).allowed);
    EXPECT_TRUE(acl.evaluate(reply, 67 * kSecond).allowed);
}

TEST_F(VswitchAclStateful, UdpAndIcmpEcho) {
    install(5);
    const IpAddress resolver = IpAddress::v4(8, 8, 8, 8);
    ASSERT_TRUE(
        acl.evaluate(tcp(Direction::outbound, kVm, 5353, resolver, 53, kProtocolUdp), 0).allowed);
    EXPECT_TRUE(
        acl.evaluate(tcp(Direction::inbound, resolver, 53, kVm, 5353, kProtocolUdp), kSecond)
            .allowed);

    EXPECT_FALSE(acl.evaluate(echo(Direction::inbound, resolver, kVm, false, 77), 0).allowed);
    ASSERT_TRUE(acl.evaluate(echo(Direction::outbound, kVm, resolver, true, 77), kSecond).allowed);
    EXPECT_TRUE(
        acl.evaluate(echo(Direction::inbound, resolver, kVm, false, 77), 2 * kSecond).allowed);
    // Another identifier is another ping session; an inbound request is not a reply.
    EXPECT_FALSE(
        acl.evaluate(echo(Direction::inbound, resolver, kVm, false, 78), 2 * kSecond).allowed);
    EXPECT_FALSE(
        acl.evaluate(echo(Direction::inbound, resolver, kVm, true, 77), 2 * kSecond).allowed);
    EXPECT_FALSE(
        acl.evaluate(echo(Direction::inbound, resolver, kVm, false, 77), 8 * kSecond).allowed);
}

TEST_F(VswitchAclStateful, RuleUpdateForgetsFlows) {
    install(30);
    ASSERT_TRUE(acl.evaluate(tcp(Direction::outbound, kVm, 40000, kServer, 80), 0).allowed);
    install(30);
    EXPECT_EQ(acl.flow_count(), 0u);
    EXPECT_FALSE(acl.evaluate(tcp(Direction::inbound, kServer, 80, kVm, 40000), kSecond).allowed);
}

TEST_F(VswitchAclStateful, FullFlowTableIsCountedAndIdleFlowsMakeRoom) {
    acl = make(AclLimits{16, 6});
    install(10);
    uint16_t port = 1000;
    uint64_t opened = 0;
    for (; opened < 64; ++opened) {
        EXPECT_TRUE(acl.evaluate(tcp(Direction::outbound, kVm, port++, kServer, 80), 0).allowed);
        if (acl.statistics().flow_table_full != 0)
            break;
    }
    EXPECT_GE(opened, 6u); // at least max_flows fit
    EXPECT_EQ(acl.statistics().flow_table_full, 1u);
    // The overflowing connection was still allowed out (the rule allows it); only its return
    // traffic finds no flow.
    EXPECT_FALSE(
        acl.evaluate(tcp(Direction::inbound, kServer, 80, kVm, static_cast<uint16_t>(port - 1)), 1)
            .allowed);
    // Once the old flows are idle, opening a new one evicts them instead of failing.
    EXPECT_TRUE(
        acl.evaluate(tcp(Direction::outbound, kVm, 9999, kServer, 80), 11 * kSecond).allowed);
    EXPECT_EQ(acl.statistics().flow_table_full, 1u);
    EXPECT_EQ(acl.flow_count(), 1u);
    EXPECT_TRUE(
        acl.evaluate(tcp(Direction::inbound, kServer, 80, kVm, 9999), 12 * kSecond).allowed);
}

TEST_F(VswitchAclStateful, ManyFlowsStayReachableThroughDeletions) {
    acl = make(AclLimits{16, 2000});
    install(10);
    // Open 1,500 flows at staggered times, let the older half expire through lookups, and check
    // every survivor is still found (backward-shift deletion must keep probe chains intact).
    for (uint16_t i = 0; i < 1500; ++i)
        ASSERT_TRUE(acl.evaluate(tcp(Direction::outbound, kVm, 10000 + i, kServer, 80),
                                 (i < 750 ? 0 : 5) * kSecond)
                        .allowed);
    EXPECT_EQ(acl.statistics().flows_opened, 1500u);
    for (uint16_t i = 0; i < 750; ++i)
        ASSERT_FALSE(
            acl.evaluate(tcp(Direction::inbound, kServer, 80, kVm, 10000 + i), 12 * kSecond)
                .allowed);
    EXPECT_EQ(acl.flow_count(), 750u);
    for (uint16_t i = 750; i < 1500; ++i)
        ASSERT_TRUE(acl.evaluate(tcp(Direction::inbound, kServer, 80, kVm, 10000 + i), 12 * kSecond)
                        .allowed)
            << i;
    EXPECT_EQ(acl.expire_flows(100 * kSecond), 750u);
    EXPECT_EQ(acl.flow_count(), 0u);
}

TEST(VswitchAclFrameFacts, ExtractsFieldsFromParsedFrame) {
    // Ethernet + IPv4 + ICMP echo request, id 0x1234, from 10.1.1.5 to 10.1.1.9.
    uint8_t bytes[14 + 20 + 8] = {
        0x02, 0, 0, 0,  0,    0x09, 0x02, 0, 0,  0, 0, 0x05, 0x08, 0x00, // Ethernet
        0x45, 0, 0, 28, 0,    0,    0,    0, 64, 1, 0, 0,    10,   1,    1, 5, 10, 1, 1, 9, // IPv4
        8,    0, 0, 0,  0x12, 0x34, 0,    1, // ICMP echo
    };
    vs::Frame frame;
    frame.buffer = bytes;
    frame.capacity = sizeof(bytes);
    frame.length = sizeof(bytes);
    ASSERT_FALSE(vs::parse_headers(frame).is_error());
    PacketFacts facts = packet_facts_of(frame, Direction::outbound);
    EXPECT_EQ(facts.family, AddressFamily::ipv4);
    EXPECT_EQ(facts.source_address, IpAddress::v4(10, 1, 1, 5));
    EXPECT_EQ(facts.destination_address, IpAddress::v4(10, 1, 1, 9));
    EXPECT_EQ(facts.protocol, kProtocolIcmp);
    EXPECT_TRUE(facts.is_icmp_echo_request);
    EXPECT_FALSE(facts.is_icmp_echo_reply);
    EXPECT_EQ(facts.icmp_echo_identifier, 0x1234);
    EXPECT_EQ(facts.source_mac.bytes[5], 0x05);
    EXPECT_EQ(facts.destination_mac.bytes[5], 0x09);
    EXPECT_EQ(facts.length_bytes, sizeof(bytes));
    EXPECT_FALSE(facts.has_ports);
}

} // namespace
