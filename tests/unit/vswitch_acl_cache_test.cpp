// The per-port classification cache must never change a verdict: a rule update on the same flow
// takes effect at once (the cache is invalidated by generation), counters keep counting cached
// hits, and a port ACL with the cache turned off decides exactly as one with it on. The switch's
// shortcut — the cache key loaded straight from an IPv4 frame and PortAcl::evaluate_cached() —
// must build exactly the key of the packet's facts and count exactly as evaluate() does.
#include "tests/unit/vswitch_test_packets.hpp"
#include "vswitch/acl/frame_facts.hpp"
#include "vswitch/acl/port_acl.hpp"
#include "vswitch/packet/parser.hpp"

#include <gtest/gtest.h>

#include <random>
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

// PortAclHook's shortcut for one frame: the narrow key when the rules allow, else the full key,
// both loaded from the frame, then evaluate_cached*(). False: a miss (call evaluate()).
bool cached_verdict(PortAcl& acl, const halcyon::vswitch::Frame& frame, Direction direction,
                    Verdict& verdict) {
    const NarrowMask& narrow = acl.narrow_mask(direction_slot(direction));
    CacheKey key;
    if (narrow.usable)
        return narrow_cache_key_of(frame, narrow, key) &&
               acl.evaluate_cached_narrow(key, key.hash(), frame.length, verdict);
    return ipv4_cache_key_of(frame, direction, key) &&
           acl.evaluate_cached(key, key.hash(), frame.length, verdict);
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

// Frames of every shape the parser knows, corrupted at random, parsed: wherever the frame gives a
// key, it must be the key of its facts, in both directions.
TEST(VswitchAclCache, KeyFromTheFrameEqualsTheKeyOfItsFacts) {
    using namespace halcyon::vswitch::test;
    namespace vs = halcyon::vswitch;
    namespace ethertype = vs::ethertype;
    namespace ip_protocol = vs::ip_protocol;
    const std::vector<Bytes> seeds = {
        udp4_frame(mac(1), mac(2), ip4(10, 0, 0, 1), ip4(172, 16, 3, 4), 5, 53, Bytes(9, 1)),
        tcp4_frame(mac(3), mac(4), ip4(192, 168, 9, 9), ip4(10, 1, 2, 3), 40000, 443),
        icmp4_frame(mac(5), mac(6), ip4(10, 0, 0, 7), ip4(10, 0, 0, 8), 8),
        ethernet(mac(7), mac(8), ethertype::ipv4,
                 ipv4(ip4(1, 2, 3, 4), ip4(5, 6, 7, 8), ip_protocol::udp,
                      udp_segment(1, 2, Bytes(4, 0)), 9, Bytes{1, 1, 1, 1})), // options
        ethernet(mac(9), mac(10), ethertype::ipv4,
                 ipv4(ip4(1, 2, 3, 4), ip4(5, 6, 7, 8), ip_protocol::tcp, Bytes(24, 0), 9, {},
                      0x20B9)), // a non-first fragment
        nvgre_frame(mac(11), mac(12), ip4(192, 168, 1, 1), ip4(192, 168, 1, 2), 5001, 3,
                    udp4_frame(mac(1), mac(2), ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 1, 2)),
        udp6_frame(mac(13), mac(14), ip6(1), ip6(2), 7, 8),
        arp_frame(mac(15), 1, mac(15), ip4(10, 0, 0, 1), ip4(10, 0, 0, 2)),
    };
    TestPool pool(4);
    std::mt19937 rng(99);
    uint32_t keyed = 0;
    for (int i = 0; i < 40000; ++i) {
        Bytes bytes = seeds[rng() % seeds.size()];
        for (uint32_t flips = rng() % 4; flips > 0; --flips)
            bytes[rng() % bytes.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
        if (rng() % 8 == 0)
            bytes.resize(rng() % bytes.size());
        vs::Frame* frame = pool.make(bytes);
        ASSERT_NE(frame, nullptr);
        if (vs::parse_headers(*frame).is_error())
            frame->headers = {};
        for (Direction direction : {Direction::inbound, Direction::outbound}) {
            CacheKey fast;
            if (!ipv4_cache_key_of(*frame, direction, fast))
                continue;
            ++keyed;
            const CacheKey slow =
                CacheKey::of(packet_facts_of(*frame, direction), direction_slot(direction));
            ASSERT_EQ(fast.words, slow.words) << "frame " << i;
            ASSERT_EQ(fast.hash(), slow.hash());
        }
        pool.pool().release(frame);
    }
    EXPECT_GT(keyed, 20000u);
}

// The same packets through evaluate_cached() (falling back to evaluate()) and through evaluate()
// of an ACL without a cache: the same verdicts, rule counters, statistics and flows, with meter
// rules, stateful rules whose flows open, admit replies and expire, and rule updates.
TEST(VswitchAclCache, CachedEvaluationCountsExactlyAsEvaluate) {
    using namespace halcyon::vswitch::test;
    namespace vs = halcyon::vswitch;
    std::vector<std::byte> memory_on, memory_off;
    PortAcl cached = make(memory_on, 16);
    PortAcl plain = make(memory_off, 0);
    TestPool pool(4);
    std::mt19937 rng(5);
    uint32_t hits = 0;
    for (int round = 0; round < 8; ++round) {
        std::vector<Rule> rules = {web_rule(round % 2 ? Action::allow : Action::deny)};
        Rule meter = web_rule(Action::meter);
        meter.id = 9;
        meter.direction = Direction::both;
        meter.remote_ports = {};
        rules.push_back(meter);
        Rule stateful = web_rule(Action::allow);
        stateful.id = 11;
        stateful.weight = 30;
        stateful.remote_ports = {443, 443};
        stateful.stateful = round % 3 != 0;
        stateful.idle_timeout_seconds = 2;
        rules.push_back(stateful);
        Rule deny_in = web_rule(Action::deny);
        deny_in.id = 12;
        deny_in.direction = Direction::inbound;
        deny_in.remote_ports = {};
        rules.push_back(deny_in);
        ASSERT_FALSE(cached.set_rules(rules).is_error());
        ASSERT_FALSE(plain.set_rules(rules).is_error());
        for (int i = 0; i < 400; ++i) {
            const uint64_t now = (static_cast<uint64_t>(round) * 400 + i) * 50'000'000;
            const bool out = rng() % 2 == 0;
            const uint16_t local_port = static_cast<uint16_t>(40000 + rng() % 5);
            const uint16_t remote_port = (rng() % 3 == 0) ? 80 : (rng() % 2 ? 443 : 22);
            const vs::Ipv4Address local = ip4(10, 1, 1, 5), remote = ip4(93, 184, 216, 34);
            const Bytes bytes =
                out ? tcp4_frame(mac(2), mac(1), local, remote, local_port, remote_port)
                    : tcp4_frame(mac(1), mac(2), remote, local, remote_port, local_port);
            vs::Frame* frame = pool.make(bytes);
            ASSERT_FALSE(vs::parse_headers(*frame).is_error());
            const Direction direction = out ? Direction::outbound : Direction::inbound;
            Verdict fast;
            if (cached_verdict(cached, *frame, direction, fast))
                ++hits;
            else
                fast = cached.evaluate(packet_facts_of(*frame, direction), now);
            const Verdict slow = plain.evaluate(packet_facts_of(*frame, direction), now);
            EXPECT_EQ(fast.allowed, slow.allowed) << round << "/" << i;
            EXPECT_EQ(fast.reason, slow.reason);
            EXPECT_EQ(fast.decided_by_rule, slow.decided_by_rule);
            EXPECT_EQ(fast.metered_by_rule, slow.metered_by_rule);
            pool.pool().release(frame);
        }
        for (size_t r = 0; r < rules.size(); ++r) {
            EXPECT_EQ(cached.counters(r).packets, plain.counters(r).packets);
            EXPECT_EQ(cached.counters(r).bytes, plain.counters(r).bytes);
        }
        EXPECT_EQ(cached.flow_count(), plain.flow_count());
    }
    EXPECT_EQ(cached.statistics().allowed, plain.statistics().allowed);
    EXPECT_EQ(cached.statistics().denied, plain.statistics().denied);
    EXPECT_EQ(cached.statistics().admitted_by_flow, plain.statistics().admitted_by_flow);
    EXPECT_EQ(cached.statistics().flows_opened, plain.statistics().flows_opened);
    EXPECT_GT(cached.statistics().admitted_by_flow, 0u);
    EXPECT_GT(hits, 1000u);
}

// Random rule sets (prefixes of every length on either side, protocols, port ranges on either
// side, families, MAC rules that rule narrow keys out, meters, stateful allows) over traffic from
// small pools of addresses and ports, so flows share narrow keys: the narrow key loaded from the
// frame equals PortAcl::cache_key() of its facts, and an ACL taking the switch's shortcut decides
// and counts exactly as one without a cache.
TEST(VswitchAclCache, NarrowKeysDecideAsTheClassifierUnderRandomRuleSets) {
    using namespace halcyon::vswitch::test;
    namespace vs = halcyon::vswitch;
    const uint8_t addresses[4][4] = {
        {10, 1, 1, 5}, {10, 1, 2, 5}, {93, 184, 216, 34}, {172, 16, 0, 9}};
    const uint8_t prefixes[] = {0, 1, 8, 16, 23, 24, 31, 32};
    const uint16_t ports[] = {22, 53, 80, 443, 40000};
    TestPool pool(4);
    std::mt19937 rng(2026);
    uint32_t narrow_keys = 0, hits = 0;
    for (int round = 0; round < 60; ++round) {
        std::vector<std::byte> memory_on, memory_off;
        PortAcl cached = make(memory_on, 64);
        PortAcl plain = make(memory_off, 0);
        std::vector<Rule> rules(1 + rng() % 8);
        for (size_t r = 0; r < rules.size(); ++r) {
            Rule& rule = rules[r];
            rule.id = static_cast<uint32_t>(r + 1);
            rule.direction = static_cast<Direction>(1 + rng() % 3);
            rule.action = static_cast<Action>(rng() % 3);
            rule.weight = rng() % 4;
            rule.stateful = rule.action == Action::allow && rng() % 4 == 0;
            rule.idle_timeout_seconds = 1;
            rule.family = rng() % 5 == 0 ? AddressFamily::any : AddressFamily::ipv4;
            if (rule.family == AddressFamily::ipv4) {
                for (int side = 0; side < 2; ++side) {
                    const uint8_t* a = addresses[rng() % 4];
                    const uint8_t prefix = prefixes[rng() % 8];
                    const IpAddress masked = mask_address(IpAddress::v4(a[0], a[1], a[2], a[3]),
                                                          AddressFamily::ipv4, prefix);
                    (side ? rule.remote_address : rule.local_address) = masked;
                    (side ? rule.remote_prefix_length : rule.local_prefix_length) = prefix;
                }
            }
            rule.match_protocol = rng() % 2 == 0;
            rule.protocol = rng() % 3 == 0 ? kProtocolTcp : rng() % 2 ? kProtocolUdp : 1;
            if (rng() % 3 == 0)
                rule.local_ports = {ports[rng() % 5], 40000};
            if (rng() % 3 == 0)
                rule.remote_ports = {53, ports[2 + rng() % 3]};
            if (rng() % 12 == 0) {
                rule.match_remote_mac = true;
                rule.remote_mac = mac(rng() % 2 ? 1 : 2);
            }
        }
        ASSERT_FALSE(cached.set_rules(rules).is_error()) << round;
        ASSERT_FALSE(plain.set_rules(rules).is_error());
        for (int i = 0; i < 300; ++i) {
            const uint64_t now = (static_cast<uint64_t>(round) * 300 + i) * 20'000'000;
            const uint8_t* l = addresses[rng() % 2];
            const uint8_t* r = addresses[rng() % 4];
            const vs::Ipv4Address local = ip4(l[0], l[1], l[2], l[3]);
            const vs::Ipv4Address remote = ip4(r[0], r[1], r[2], r[3]);
            const bool out = rng() % 2 == 0;
            const uint16_t lp = ports[rng() % 5], rp = ports[rng() % 5];
            const vs::Ipv4Address src = out ? local : remote, dst = out ? remote : local;
            const uint16_t sp = out ? lp : rp, dp = out ? rp : lp;
            const MacAddress src_mac = out ? mac(2) : mac(rng() % 2 ? 1 : 3);
            const MacAddress dst_mac = out ? mac(rng() % 2 ? 1 : 3) : mac(2);
            Bytes bytes;
            switch (rng() % 8) {
            case 0:
                bytes = icmp4_frame(dst_mac, src_mac, src, dst, 8);
                break;
            case 1:
                bytes = udp6_frame(dst_mac, src_mac, ip6(1), ip6(2), sp, dp);
                break;
            case 2:
                bytes = arp_frame(src_mac, 1, src_mac, src, dst);
                break;
            case 3:
            case 4:
                bytes = udp4_frame(dst_mac, src_mac, src, dst, sp, dp);
                break;
            default:
                bytes = tcp4_frame(dst_mac, src_mac, src, dst, sp, dp);
                break;
            }
            vs::Frame* frame = pool.make(bytes);
            ASSERT_FALSE(vs::parse_headers(*frame).is_error());
            const Direction direction = out ? Direction::outbound : Direction::inbound;
            const PacketFacts facts = packet_facts_of(*frame, direction);
            const NarrowMask& narrow = cached.narrow_mask(direction_slot(direction));
            CacheKey from_frame;
            if (narrow.usable && narrow_cache_key_of(*frame, narrow, from_frame)) {
                ++narrow_keys;
                const CacheKey of_facts = cached.cache_key(facts, direction_slot(direction));
                ASSERT_EQ(from_frame.words, of_facts.words) << round << "/" << i;
            }
            Verdict fast;
            if (cached_verdict(cached, *frame, direction, fast))
                ++hits;
            else
                fast = cached.evaluate(facts, now);
            const Verdict slow = plain.evaluate(facts, now);
            ASSERT_EQ(fast.allowed, slow.allowed) << round << "/" << i;
            ASSERT_EQ(fast.reason, slow.reason);
            ASSERT_EQ(fast.decided_by_rule, slow.decided_by_rule);
            ASSERT_EQ(fast.metered_by_rule, slow.metered_by_rule);
            pool.pool().release(frame);
        }
        for (size_t r = 0; r < rules.size(); ++r) {
            EXPECT_EQ(cached.counters(r).packets, plain.counters(r).packets) << round;
            EXPECT_EQ(cached.counters(r).bytes, plain.counters(r).bytes);
        }
        EXPECT_EQ(cached.flow_count(), plain.flow_count());
        EXPECT_EQ(cached.statistics().allowed, plain.statistics().allowed);
        EXPECT_EQ(cached.statistics().denied, plain.statistics().denied);
        EXPECT_EQ(cached.statistics().admitted_by_flow, plain.statistics().admitted_by_flow);
    }
    EXPECT_GT(narrow_keys, 5000u);
    EXPECT_GT(hits, 2000u);
}

} // namespace
