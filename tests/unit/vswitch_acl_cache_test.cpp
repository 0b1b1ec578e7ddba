// The per-port classification cache must never change a verdict: a rule update on the same flow
// takes effect at once (the cache is invalidated by generation), counters keep counting cached
// hits, and a port ACL with the cache turned off decides exactly as one with it on.
#include "vswitch/acl/port_acl.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace {

using namespace halcyon::vswitch::acl;

PortAcl make(std::vector<std::byte>& memory, uint32_t cache_entries) {
    AclLimits limits{16, 64};
    limits.classification_cache_entries = cache_entries;
    memory.resize(PortAcl::memory_bytes(limits));
    return PortAcl::create(limits, memory).release_value();
}

Rule web_rule(Action action) {
    Rule rule;
    rule.id = 7;
    rule.direction = Direction::outbound;
    rule.action = action;
    rule.weight = 10;
    rule.family = AddressFamily::ipv4;
    rule.match_protocol = true;
    rule.protocol = kProtocolTcp;
    rule.remote_ports = {80, 80};
    return rule;
}

PacketFacts web_packet(uint16_t source_port) {
    PacketFacts p;
    p.direction = Direction::outbound;
    p.family = AddressFamily::ipv4;
    p.source_address = IpAddress::v4(10, 1, 1, 5);
    p.destination_address = IpAddress::v4(93, 184, 216, 34);
    p.protocol = kProtocolTcp;
    p.has_ports = true;
    p.source_port = source_port;
    p.destination_port = 80;
    p.length_bytes = 60;
    return p;
}

TEST(VswitchAclCache, RuleUpdateOnACachedFlowTakesEffectImmediately) {
    std::vector<std::byte> memory;
    PortAcl acl = make(memory, 64);
    std::vector<Rule> rules = {web_rule(Action::deny)};
    ASSERT_FALSE(acl.set_rules(rules).is_error());
    for (int i = 0; i < 3; ++i) // the first evaluation fills the cache, the others hit it
        EXPECT_FALSE(acl.evaluate(web_packet(40000), i).allowed);
    EXPECT_EQ(acl.counters_for_id(7).value().packets, 3u) << "cached hits must still be counted";

    rules = {web_rule(Action::allow)};
    ASSERT_FALSE(acl.set_rules(rules).is_error());
    EXPECT_TRUE(acl.evaluate(web_packet(40000), 10).allowed);

    rules = {};
    ASSERT_FALSE(acl.set_rules(rules).is_error());
    Verdict unmatched = acl.evaluate(web_packet(40000), 20);
    EXPECT_TRUE(unmatched.allowed) << "no rule matches: the default is allow";
}

TEST(VswitchAclCache, CacheOffAndOnDecideAlikeOverManyFlowsAndUpdates) {
    std::vector<std::byte> memory_on, memory_off;
    PortAcl with_cache = make(memory_on, 16); // small, so entries are evicted and reused
    PortAcl without_cache = make(memory_off, 0);
    for (int round = 0; round < 6; ++round) {
        std::vector<Rule> rules = {web_rule(round % 2 ? Action::allow : Action::deny)};
        Rule narrow = web_rule(round % 3 ? Action::deny : Action::allow);
        narrow.id = 8;
        narrow.weight = 20;
        narrow.local_ports = {40000, static_cast<uint16_t>(40000 + round * 7)};
        rules.push_back(narrow);
        ASSERT_FALSE(with_cache.set_rules(rules).is_error());
        ASSERT_FALSE(without_cache.set_rules(rules).is_error());
        for (uint16_t port = 39990; port < 40060; ++port) {
            for (int repeat = 0; repeat < 2; ++repeat) {
                uint64_t now = static_cast<uint64_t>(round) * 1000 + port;
                EXPECT_EQ(with_cache.evaluate(web_packet(port), now).allowed,
                          without_cache.evaluate(web_packet(port), now).allowed)
                    << "round " << round << " port " << port;
            }
        }
    }
}

TEST(VswitchAclCache, RejectsACacheSizeThatIsNotAPowerOfTwo) {
    AclLimits limits{16, 64};
    limits.classification_cache_entries = 100;
    std::vector<std::byte> memory(PortAcl::memory_bytes(AclLimits{16, 64}) + (1 << 20));
    EXPECT_TRUE(PortAcl::create(limits, memory).is_error());
}

} // namespace
