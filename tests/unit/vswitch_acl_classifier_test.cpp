// Port ACL classifier: the tuple-space result must equal a brute-force reading of the rules on
// random rule sets and packets, precedence must follow weight then deny-wins, and the number of
// hash probes must track rule shapes, not rule count.
#include "vswitch/acl/port_acl.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace {

using namespace halcyon::vswitch::acl;

struct AclFixture {
    std::vector<std::byte> memory;
    PortAcl acl;
};

PortAcl make_acl(std::vector<std::byte>& memory, AclLimits limits) {
    memory.resize(PortAcl::memory_bytes(limits));
    auto created = PortAcl::create(limits, memory);
    EXPECT_FALSE(created.is_error());
    return created.release_value();
}

// ---- Brute-force reference, written from the rule semantics independently of the library ----

bool bit_of(const IpAddress& a, int family_bits, int i) {
    // Bit i (0 = most significant) of a family_bits-wide address stored in the low bits.
    int from_lsb = family_bits - 1 - i;
    return from_lsb >= 64 ? (a.high >> (from_lsb - 64)) & 1 : (a.low >> from_lsb) & 1;
}

bool prefix_matches(const IpAddress& rule, const IpAddress& packet, int family_bits, int length) {
    for (int i = 0; i < length; ++i)
        if (bit_of(rule, family_bits, i) != bit_of(packet, family_bits, i))
            return false;
    return true;
}

bool reference_matches(const Rule& rule, const PacketFacts& p) {
    if ((static_cast<int>(rule.direction) & static_cast<int>(p.direction)) == 0)
        return false;
    const bool out = p.direction == Direction::outbound;
    const MacAddress& local_mac = out ? p.source_mac : p.destination_mac;
    const MacAddress& remote_mac = out ? p.destination_mac : p.source_mac;
    const IpAddress& local_ip = out ? p.source_address : p.destination_address;
    const IpAddress& remote_ip = out ? p.destination_address : p.source_address;
    const uint16_t local_port = out ? p.source_port : p.destination_port;
    const uint16_t remote_port = out ? p.destination_port : p.source_port;
    if (rule.match_local_mac && !(rule.local_mac == local_mac))
        return false;
    if (rule.match_remote_mac && !(rule.remote_mac == remote_mac))
        return false;
    if (rule.family != AddressFamily::any) {
        if (p.family != rule.family)
            return false;
        int bits = rule.family == AddressFamily::ipv4 ? 32 : 128;
        if (!prefix_matches(rule.local_address, local_ip, bits, rule.local_prefix_length) ||
            !prefix_matches(rule.remote_address, remote_ip, bits, rule.remote_prefix_length))
            return false;
    }
    if (rule.match_protocol && (p.family == AddressFamily::any || p.protocol != rule.protocol))
        return false;
    const bool any_ports = rule.local_ports.first == 0 && rule.local_ports.last == 0xFFFF &&
                           rule.remote_ports.first == 0 && rule.remote_ports.last == 0xFFFF;
    if (!any_ports) {
        if (!p.has_ports)
            return false;
        if (local_port < rule.local_ports.first || local_port > rule.local_ports.last ||
            remote_port < rule.remote_ports.first || remote_port > rule.remote_ports.last)
            return false;
    }
    return true;
}

// True if rule a takes precedence over rule b (indices into rules).
bool stronger(const std::vector<Rule>& rules, int a, int b) {
    if (rules[a].weight != rules[b].weight)
        return rules[a].weight > rules[b].weight;
    bool a_deny = rules[a].action == Action::deny, b_deny = rules[b].action == Action::deny;
    if (a_deny != b_deny)
        return a_deny;
    return a < b;
}

int reference_best(const std::vector<Rule>& rules, const PacketFacts& p, bool metering) {
    int best = -1;
    for (int i = 0; i < static_cast<int>(rules.size()); ++i) {
        if ((rules[i].action == Action::meter) != metering || !reference_matches(rules[i], p))
            continue;
        if (best < 0 || stronger(rules, i, best))
            best = i;
    }
    return best;
}

// ---- Random generation over small pools so that rules and packets actually collide ----

struct Generator {
    std::mt19937_64 rng;
    explicit Generator(uint64_t seed) : rng(seed) {}

    uint64_t below(uint64_t n) { return rng() % n; }
    MacAddress mac() { return MacAddress{{0x02, 0, 0, 0, 0, static_cast<uint8_t>(below(4))}}; }
    IpAddress v4() {
        return IpAddress::v4(10, 0, static_cast<uint8_t>(below(4)), static_cast<uint8_t>(below(8)));
    }
    IpAddress v6() { return IpAddress{0xFD00000000000000ull | below(3) << 32, below(6)}; }
    PortRange ports() {
        switch (below(6)) {
        case 0:
            return {80, 80};
        case 1:
            return {1000, 2000};
        case 2:
            return {0, 1023};
        case 3: {
            uint16_t a = static_cast<uint16_t>(below(3000)), b = static_cast<uint16_t>(below(3000));
            return a <= b ? PortRange{a, b} : PortRange{b, a};
        }
        default:
            return {};
        }
    }
    uint16_t port() {
        const uint16_t common[] = {80, 443, 1000, 1500, 2000, 22, 53};
        return below(2) ? common[below(7)] : static_cast<uint16_t>(below(3000));
    }

    Rule rule(uint32_t id) {
        Rule r;
        r.id = id;
        r.direction = static_cast<Direction>(1 + below(3));
        uint64_t action = below(10);
        r.action = action < 4 ? Action::allow : action < 8 ? Action::deny : Action::meter;
        r.weight = static_cast<uint32_t>(below(12));
        if (below(4) == 0) {
            r.match_local_mac = true;
            r.local_mac = mac();
        }
        if (below(5) == 0) {
            r.match_remote_mac = true;
            r.remote_mac = mac();
        }
        uint64_t family = below(5);
        if (family < 3) {
            r.family = AddressFamily::ipv4;
            const uint8_t lengths[] = {0, 8, 16, 24, 29, 30, 32};
            r.local_address = v4();
            r.local_prefix_length = lengths[below(7)];
            r.remote_address = v4();
            r.remote_prefix_length = lengths[below(7)];
        } else if (family == 3) {
            r.family = AddressFamily::ipv6;
            const uint8_t lengths[] = {0, 8, 48, 64, 96, 125, 128};
            r.local_address = v6();
            r.local_prefix_length = lengths[below(7)];
            r.remote_address = v6();
            r.remote_prefix_length = lengths[below(7)];
        }
        if (below(2) == 0) {
            r.match_protocol = true;
            const uint8_t protocols[] = {kProtocolTcp, kProtocolUdp, kProtocolIcmp};
            r.protocol = protocols[below(3)];
        }
        if (below(2) == 0)
            r.local_ports = ports();
        if (below(2) == 0)
            r.remote_ports = ports();
        return r;
    }

    PacketFacts packet() {
        PacketFacts p;
        p.direction = below(2) ? Direction::inbound : Direction::outbound;
        p.source_mac = mac();
        p.destination_mac = mac();
        p.length_bytes = static_cast<uint32_t>(64 + below(1400));
        uint64_t family = below(6);
        if (family == 0)
            return p; // non-IP
        if (family <= 3) {
            p.family = AddressFamily::ipv4;
            p.source_address = v4();
            p.destination_address = v4();
        } else {
            p.family = AddressFamily::ipv6;
            p.source_address = v6();
            p.destination_address = v6();
        }
        const uint8_t protocols[] = {kProtocolTcp, kProtocolUdp, kProtocolIcmp, 47};
        p.protocol = protocols[below(4)];
        if (p.protocol == kProtocolTcp || p.protocol == kProtocolUdp) {
            p.has_ports = below(10) != 0; // sometimes a non-first fragment
            p.source_port = port();
            p.destination_port = port();
        }
        return p;
    }
};

void expect_same_as_reference(uint64_t seed, int rule_count, int packet_count) {
    Generator gen(seed);
    std::vector<Rule> rules;
    for (int i = 0; i < rule_count; ++i)
        rules.push_back(gen.rule(static_cast<uint32_t>(i + 1)));
    std::vector<std::byte> memory;
    PortAcl acl = make_acl(memory, {static_cast<uint32_t>(rule_count), 64});
    ASSERT_FALSE(acl.set_rules(rules).is_error());
    int decided = 0;
    for (int i = 0; i < packet_count; ++i) {
        PacketFacts p = gen.packet();
        int expected_decision = reference_best(rules, p, false);
        int expected_meter = reference_best(rules, p, true);
        Verdict v = acl.evaluate(p, 0);
        ASSERT_EQ(v.decided_by_rule, expected_decision) << "seed " << seed << " packet " << i;
        ASSERT_EQ(v.metered_by_rule, expected_meter) << "seed " << seed << " packet " << i;
        bool expected_allow =
            expected_decision < 0 || rules[expected_decision].action == Action::allow;
        ASSERT_EQ(v.allowed, expected_allow);
        decided += expected_decision >= 0;
    }
    // The generator must exercise real matches, or the comparison proves nothing.
    EXPECT_GT(decided, packet_count / 10) << "seed " << seed;
}

TEST(VswitchAclClassifier, MatchesBruteForceOnRandomRuleSets) {
    for (uint64_t seed = 1; seed <= 24; ++seed)
        expect_same_as_reference(seed, 10 + static_cast<int>(seed * 7), 3000);
}

TEST(VswitchAclClassifier, MatchesBruteForceWithThousandsOfRules) {
    expect_same_as_reference(1234, 1500, 4000);
    expect_same_as_reference(99, 3000, 2000);
}

TEST(VswitchAclClassifier, ProbesGrowWithShapesNotRules) {
    // 2,000 rules of one shape (remote /32 + TCP + port) cost one probe per direction.
    std::vector<Rule> rules;
    for (uint32_t i = 0; i < 2000; ++i) {
        Rule r;
        r.id = i;
        r.action = Action::deny;
        r.direction = Direction::outbound;
        r.family = AddressFamily::ipv4;
        r.remote_address = IpAddress::v4(0x0A000000u + i);
        r.remote_prefix_length = 32;
        r.match_protocol = true;
        r.protocol = kProtocolTcp;
        r.remote_ports = {443, 443};
        rules.push_back(r);
    }
    std::vector<std::byte> memory;
    PortAcl acl = make_acl(memory, {2000, 16});
    ASSERT_FALSE(acl.set_rules(rules).is_error());
    EXPECT_EQ(acl.tuples_searched(Direction::outbound), 1u);
    EXPECT_EQ(acl.tuples_searched(Direction::inbound), 0u);
    PacketFacts p;
    p.family = AddressFamily::ipv4;
    p.source_address = IpAddress::v4(192, 168, 0, 1);
    p.destination_address = IpAddress::v4(0x0A000000u + 1999);
    p.protocol = kProtocolTcp;
    p.has_ports = true;
    p.source_port = 5555;
    p.destination_port = 443;
    Verdict v = acl.evaluate(p, 0);
    EXPECT_FALSE(v.allowed);
    EXPECT_EQ(v.decided_by_rule, 1999);
    p.destination_port = 444;
    EXPECT_TRUE(acl.evaluate(p, 0).allowed);
}

Rule ip_rule(uint32_t id, Action action, uint32_t weight, IpAddress remote, uint8_t length) {
    Rule r;
    r.id = id;
    r.action = action;
    r.weight = weight;
    r.family = AddressFamily::ipv4;
    r.remote_address = remote;
    r.remote_prefix_length = length;
    return r;
}

PacketFacts outbound_to(IpAddress destination, uint32_t length = 100) {
    PacketFacts p;
    p.direction = Direction::outbound;
    p.family = AddressFamily::ipv4;
    p.source_address = IpAddress::v4(10, 1, 1, 5);
    p.destination_address = destination;
    p.protocol = kProtocolUdp;
    p.has_ports = true;
    p.source_port = 4000;
    p.destination_port = 53;
    p.length_bytes = length;
    return p;
}

TEST(VswitchAclClassifier, HigherWeightWinsAndDenyWinsTies) {
    std::vector<std::byte> memory;
    PortAcl acl = make_acl(memory, {16, 16});
    std::vector<Rule> rules = {
        ip_rule(1, Action::deny, 1, IpAddress::v4(0, 0, 0, 0), 0),     // deny everything
        ip_rule(2, Action::allow, 10, IpAddress::v4(10, 2, 0, 0), 16), // allow 10.2/16
        ip_rule(3, Action::deny, 10, IpAddress::v4(10, 2, 3, 0), 24),  // tie with 2: deny wins
        ip_rule(4, Action::allow, 20, IpAddress::v4(10, 2, 3, 7), 32), // stronger allow
    };
    ASSERT_FALSE(acl.set_rules(rules).is_error());
    EXPECT_FALSE(acl.evaluate(outbound_to(IpAddress::v4(8, 8, 8, 8)), 0).allowed);
    EXPECT_TRUE(acl.evaluate(outbound_to(IpAddress::v4(10, 2, 9, 9)), 0).allowed);
    Verdict tie = acl.evaluate(outbound_to(IpAddress::v4(10, 2, 3, 8)), 0);
    EXPECT_FALSE(tie.allowed);
    EXPECT_EQ(tie.decided_by_rule, 2);
    EXPECT_TRUE(acl.evaluate(outbound_to(IpAddress::v4(10, 2, 3, 7)), 0).allowed);
    EXPECT_EQ(acl.statistics().denied, 2u);
    EXPECT_EQ(acl.statistics().allowed, 2u);
}

TEST(VswitchAclClassifier, NoRulesMeansAllow) {
    std::vector<std::byte> memory;
    PortAcl acl = make_acl(memory, {4, 4});
    Verdict v = acl.evaluate(outbound_to(IpAddress::v4(1, 2, 3, 4)), 0);
    EXPECT_TRUE(v.allowed);
    EXPECT_EQ(v.reason, VerdictReason::no_rule_matched);
}

TEST(VswitchAclClassifier, MeterCountsWithoutChangingTheVerdict) {
    std::vector<std::byte> memory;
    PortAcl acl = make_acl(memory, {16, 16});
    std::vector<Rule> rules = {
        ip_rule(100, Action::meter, 0, IpAddress::v4(0, 0, 0, 0), 0),     // all traffic
        ip_rule(101, Action::meter, 5, IpAddress::v4(10, 0, 0, 0), 8),    // intranet
        ip_rule(200, Action::deny, 0, IpAddress::v4(192, 168, 0, 0), 16), // denied peers
    };
    ASSERT_FALSE(acl.set_rules(rules).is_error());
    EXPECT_TRUE(acl.evaluate(outbound_to(IpAddress::v4(8, 8, 8, 8), 1000), 0).allowed);
    EXPECT_TRUE(acl.evaluate(outbound_to(IpAddress::v4(10, 9, 9, 9), 300), 0).allowed);
    EXPECT_TRUE(acl.evaluate(outbound_to(IpAddress::v4(10, 9, 9, 8), 200), 0).allowed);
    EXPECT_FALSE(acl.evaluate(outbound_to(IpAddress::v4(192, 168, 4, 4), 77), 0).allowed);

    EXPECT_EQ(acl.counters_for_id(100).value().packets, 2u); // internet + the denied attempt
    EXPECT_EQ(acl.counters_for_id(100).value().bytes, 1077u);
    EXPECT_EQ(acl.counters_for_id(101).value().packets, 2u);
    EXPECT_EQ(acl.counters_for_id(101).value().bytes, 500u);
    EXPECT_EQ(acl.counters_for_id(200).value().packets, 1u); // attempts from a denied address
    EXPECT_TRUE(acl.counters_for_id(999).is_error());

    // Counters survive an update for rules that keep their id; new rules start at zero.
    rules.push_back(ip_rule(300, Action::allow, 0, IpAddress::v4(1, 1, 1, 1), 32));
    ASSERT_FALSE(acl.set_rules(rules).is_error());
    EXPECT_EQ(acl.counters_for_id(101).value().bytes, 500u);
    EXPECT_EQ(acl.counters_for_id(300).value().packets, 0u);
    acl.reset_counters();
    EXPECT_EQ(acl.counters_for_id(101).value().bytes, 0u);
}

TEST(VswitchAclClassifier, InvalidRulesAreRejectedAndOldRulesStay) {
    std::vector<std::byte> memory;
    PortAcl acl = make_acl(memory, {4, 4});
    std::vector<Rule> good = {ip_rule(1, Action::deny, 0, IpAddress::v4(8, 8, 8, 8), 32)};
    ASSERT_FALSE(acl.set_rules(good).is_error());

    Rule too_long = ip_rule(2, Action::allow, 0, IpAddress::v4(1, 1, 1, 1), 33);
    Rule empty_range = ip_rule(3, Action::allow, 0, IpAddress::v4(1, 1, 1, 1), 32);
    empty_range.remote_ports = {100, 50};
    Rule stateful_deny = ip_rule(4, Action::deny, 0, IpAddress::v4(1, 1, 1, 1), 32);
    stateful_deny.stateful = true;
    Rule any_family_prefix;
    any_family_prefix.remote_prefix_length = 8;
    for (const Rule& bad : {too_long, empty_range, stateful_deny, any_family_prefix}) {
        std::vector<Rule> rules = {bad};
        auto result = acl.set_rules(rules);
        ASSERT_TRUE(result.is_error());
        EXPECT_EQ(result.error().code(), halcyon::ErrorCode::invalid_argument);
    }
    std::vector<Rule> too_many(5, good[0]);
    EXPECT_EQ(acl.set_rules(too_many).error().code(), halcyon::ErrorCode::out_of_range);

    EXPECT_EQ(acl.rule_count(), 1u);
    EXPECT_FALSE(acl.evaluate(outbound_to(IpAddress::v4(8, 8, 8, 8)), 0).allowed);
}

TEST(VswitchAclClassifier, CreateRefusesShortMemory) {
    std::vector<std::byte> memory(PortAcl::memory_bytes({64, 64}) - 1);
    auto created = PortAcl::create({64, 64}, memory);
    ASSERT_TRUE(created.is_error());
    EXPECT_EQ(created.error().code(), halcyon::ErrorCode::out_of_memory);
}

TEST(VswitchAclClassifier, Ipv6AndMacRules) {
    std::vector<std::byte> memory;
    PortAcl acl = make_acl(memory, {8, 8});
    Rule v6;
    v6.id = 1;
    v6.action = Action::deny;
    v6.family = AddressFamily::ipv6;
    v6.remote_address = IpAddress{0x20010DB800000000ull, 0};
    v6.remote_prefix_length = 32;
    Rule mac;
    mac.id = 2;
    mac.action = Action::deny;
    mac.direction = Direction::inbound;
    mac.match_remote_mac = true;
    mac.remote_mac = MacAddress{{0x02, 0xBA, 0xD0, 0, 0, 1}};
    std::vector<Rule> rules = {v6, mac};
    ASSERT_FALSE(acl.set_rules(rules).is_error());

    PacketFacts p;
    p.direction = Direction::outbound;
    p.family = AddressFamily::ipv6;
    p.destination_address = IpAddress{0x20010DB8FFFF0000ull, 42};
    EXPECT_FALSE(acl.evaluate(p, 0).allowed);
    p.destination_address = IpAddress{0x20010DB900000000ull, 42};
    EXPECT_TRUE(acl.evaluate(p, 0).allowed);

    PacketFacts arp; // non-IP frame from the bad MAC towards the VM
    arp.direction = Direction::inbound;
    arp.source_mac = mac.remote_mac;
    EXPECT_FALSE(acl.evaluate(arp, 0).allowed);
    arp.direction =
        Direction::outbound; // same MAC as destination of an outbound frame: rule is inbound only
    arp.destination_mac = mac.remote_mac;
    EXPECT_TRUE(acl.evaluate(arp, 0).allowed);
}

} // namespace
