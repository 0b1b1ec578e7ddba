// The NVGRE flow caches (vswitch/nvgre/flow_cache.hpp) must never change a result: a virtualization
// with caches and one without, fed the same frames and the same policy changes, must return the
// same actions, leave the same bytes, metadata and headers, and count the same statistics — over
// thousands of frames of a few hundred flows (so most are cache hits) and random policy,
// neighbour and provider-address changes in between. Then the invalidation rules one by one: a
// record that moves, disappears or changes its MAC, a neighbour's new MAC, a new local provider
// address and a wholesale policy replacement each take effect on the very next packet of a cached
// flow, and overlapping customer addresses in two virtual subnets never share a cached decision.
// Last, encapsulate_from() (the cached outer headers) against encapsulate() byte for byte.
#include "tests/unit/vswitch_test_packets.hpp"
#include "vswitch/nvgre/network_virtualization.hpp"
#include "vswitch/packet/parser.hpp"

#include <gtest/gtest.h>

#include <random>

namespace halcyon::vswitch {
namespace {

using namespace test;
namespace nv = nvgre;

constexpr nv::RoutingDomainId kBlue{1, 1}, kYellow{1, 2};
const MacAddress kRouter = mac(0xFE), kHostMac = mac(0xA0);

nv::NetAddress net(Ipv4Address a) {
    return nv::NetAddress::v4(static_cast<uint8_t>(a.value >> 24),
                              static_cast<uint8_t>(a.value >> 16),
                              static_cast<uint8_t>(a.value >> 8), static_cast<uint8_t>(a.value));
}
Ipv4Address ca(uint8_t subnet, uint8_t host) {
    return ip4(10, 1, subnet, host);
}
Ipv4Address pa(uint8_t host) {
    return ip4(192, 168, 1, host);
}
MacAddress vm(uint8_t n) {
    return mac(n, 0x00);
}

bool same_headers(const ParsedHeaders& a, const ParsedHeaders& b) {
    return a.flags == b.flags && a.ethertype == b.ethertype && a.outer_tpid == b.outer_tpid &&
           a.outer_tci == b.outer_tci && a.inner_tci == b.inner_tci && a.tag_count == b.tag_count &&
           a.l3 == b.l3 && a.l3_offset == b.l3_offset && a.l3_end == b.l3_end &&
           a.l4_offset == b.l4_offset && a.payload_offset == b.payload_offset &&
           a.ip_protocol == b.ip_protocol && a.ttl == b.ttl && a.src_port == b.src_port &&
           a.dst_port == b.dst_port && a.tcp_flags == b.tcp_flags && a.icmp_type == b.icmp_type &&
           a.icmp_code == b.icmp_code && a.gre_protocol == b.gre_protocol && a.gre_key == b.gre_key;
}

// One virtualization over its own policy table; `cached` gives it flow caches.
struct Side {
    std::vector<nv::RecordSlot> records = std::vector<nv::RecordSlot>(128);
    std::vector<nv::SubnetSlot> subnets = std::vector<nv::SubnetSlot>(16);
    nv::PolicyTable policy = nv::PolicyTable::create(records, subnets).release_value();
    std::vector<nv::CustomerFlowEntry> customer_flows;
    std::vector<nv::ProviderFlowEntry> provider_flows;
    std::unique_ptr<nv::NetworkVirtualization> hook;

    Side(bool cached, uint32_t mtu) {
        nv::ProviderConfig config;
        config.router_mac = kRouter;
        config.mtu = mtu;
        config.vlan_id = 7;
        hook = std::make_unique<nv::NetworkVirtualization>(policy, config);
        if (cached) {
            // Small (60 flows each way share 32 sets of four), so flows also evict each other.
            customer_flows.resize(128);
            provider_flows.resize(128);
            EXPECT_FALSE(hook->set_flow_caches(customer_flows, provider_flows).is_error());
        }
    }
};

// The two sides and the same policy for both: blue 5001/5002 and yellow 6001 with overlapping
// CAs; local PAs .10 (blue) and .20 (yellow), remote hosts .11, .12 (neighbours) and .13 (none).
struct Twin {
    Side cached, plain;
    TestPool pool{64, 2048, 128};
    TestPool tight{16, 2048, 20}; // too little headroom for NVGRE

    explicit Twin(uint32_t mtu = 1500) : cached(true, mtu), plain(false, mtu) {
        each([](Side& s) {
            EXPECT_FALSE(s.policy.set_subnet({5001, kBlue, net(ca(1, 1)), true}).is_error());
            EXPECT_FALSE(s.policy.set_subnet({5002, kBlue, net(ca(2, 1)), true}).is_error());
            EXPECT_FALSE(s.policy.set_subnet({6001, kYellow, net(ca(1, 1)), true}).is_error());
            for (uint8_t host = 2; host < 10; ++host) {
                const uint8_t where = host < 4 ? 10 : 11 + host % 3;
                EXPECT_FALSE(
                    s.policy.set_record({kBlue, 5001, net(ca(1, host)), vm(host), net(pa(where))})
                        .is_error());
                EXPECT_FALSE(
                    s.policy
                        .set_record({kBlue, 5002, net(ca(2, host)), vm(20 + host), net(pa(where))})
                        .is_error());
                EXPECT_FALSE(s.policy
                                 .set_record({kYellow, 6001, net(ca(1, host)), vm(40 + host),
                                              net(pa(host < 4 ? 20 : where))})
                                 .is_error());
            }
            EXPECT_FALSE(s.hook->add_local_provider_address(net(pa(10)), kHostMac).is_error());
            EXPECT_FALSE(s.hook->add_local_provider_address(net(pa(20)), kHostMac).is_error());
            EXPECT_FALSE(s.hook->set_provider_neighbor(net(pa(11)), mac(0xB1)).is_error());
            EXPECT_FALSE(s.hook->set_provider_neighbor(net(pa(12)), mac(0xB2)).is_error());
        });
    }

    template <typename Change>
    void each(Change&& change) {
        change(cached);
        change(plain);
    }

    // Sends `bytes` through both sides (from a VM in `vsid`, or from the provider network when
    // vsid is 0) and expects identical outcomes.
    void compare(const Bytes& bytes, uint32_t vsid, bool tight_headroom = false) {
        TestPool& frames = tight_headroom ? tight : pool;
        Frame* a = frames.make(bytes);
        Frame* b = frames.make(bytes);
        ASSERT_TRUE(a != nullptr && b != nullptr);
        for (Frame* f : {a, b}) {
            if (parse_headers(*f).is_error())
                f->headers = {};
            f->vsid = vsid;
            f->vlan_id = 3;
        }
        const HookContext context{1, 1, Direction::from_port, 0};
        const NvgreResult x = vsid != 0 ? cached.hook->from_customer(context, *a)
                                        : cached.hook->from_provider(context, *a);
        const NvgreResult y = vsid != 0 ? plain.hook->from_customer(context, *b)
                                        : plain.hook->from_provider(context, *b);
        EXPECT_EQ(x.action, y.action);
        if (x.action == NvgreAction::drop)
            EXPECT_EQ(x.reason, y.reason);
        EXPECT_EQ(Bytes(a->data(), a->data() + a->length), Bytes(b->data(), b->data() + b->length));
        EXPECT_EQ(a->vsid, b->vsid);
        EXPECT_EQ(a->vlan_id, b->vlan_id);
        EXPECT_EQ(a->flow_id, b->flow_id);
        EXPECT_TRUE(same_headers(a->headers, b->headers));
        frames.pool().release(a);
        frames.pool().release(b);
    }

    void expect_same_statistics() {
        const nv::NvgreStatistics& x = cached.hook->statistics();
        const nv::NvgreStatistics& y = plain.hook->statistics();
        EXPECT_EQ(x.encapsulated, y.encapsulated);
        EXPECT_EQ(x.decapsulated, y.decapsulated);
        EXPECT_EQ(x.delivered_locally, y.delivered_locally);
        EXPECT_EQ(x.routed, y.routed);
        EXPECT_EQ(x.arp_replies, y.arp_replies);
        for (size_t r = 0; r < kDropReasonCount; ++r)
            EXPECT_EQ(x.drops.by_reason[r], y.drops.by_reason[r]) << r;
    }
};

// A customer IPv4 frame with a chosen TTL and DSCP byte (the per-packet fields).
Bytes customer_frame(const MacAddress& dst_mac, const MacAddress& src_mac, Ipv4Address src,
                     Ipv4Address dst, uint8_t protocol, uint16_t port, size_t payload, uint8_t ttl,
                     uint8_t tos) {
    Bytes l4;
    if (protocol == ip_protocol::udp)
        l4 = udp_segment(port, 53, Bytes(payload, 0x5A));
    else if (protocol == ip_protocol::tcp)
        l4 = tcp_segment(port, 80, 0x10, Bytes(payload, 0x5A));
    else
        l4 = icmp_message(8, 0, Bytes(payload + 4, 1));
    Bytes frame = ethernet(dst_mac, src_mac, ethertype::ipv4, ipv4(src, dst, protocol, l4, ttl));
    frame[15] = tos;
    ipv4_set_header_checksum(std::span<uint8_t>(frame.data() + 14, 20));
    return frame;
}

TEST(VswitchNvgreFlowCache, CachedAndUncachedAgreeAcrossFlowsAndPolicyChanges) {
    Twin twin(600); // a small provider MTU, so large frames are refused
    std::mt19937 rng(20261123);
    auto pick = [&rng](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
    const uint32_t vsids[] = {5001, 5002, 6001, 7777};
    // 60 flows (sender, receiver, protocol, port, provider addresses of the way back); each
    // round sends 400 packets of them each way with per-packet sizes, TTLs, DSCP and headroom, so
    // most packets are cache hits. (Every random choice is drawn once, outside twin.each(), so both
    // sides see the same.)
    struct Flow {
        uint32_t vsid;
        uint8_t subnet, dst_subnet, src, dst;
        MacAddress src_mac, dst_mac;
        uint8_t protocol;
        uint16_t port;
        uint8_t from, to;
    };
    std::vector<Flow> flows;
    for (int n = 0; n < 60; ++n) {
        Flow f;
        f.vsid = vsids[pick(4)];
        const bool yellow = f.vsid == 6001;
        f.subnet = f.vsid == 5002 ? 2 : 1;
        // The MAC policy gives the VM with CA 10.1.<subnet>.<host> in the sender's domain.
        auto vm_of = [yellow](uint8_t in_subnet, uint8_t host) {
            return vm(static_cast<uint8_t>((yellow ? 40 : in_subnet == 2 ? 20 : 0) + host));
        };
        f.src = static_cast<uint8_t>(2 + pick(9));
        f.dst = static_cast<uint8_t>(2 + pick(9));
        f.dst_subnet = pick(4) == 0 ? 3 - f.subnet : f.subnet; // some routed
        f.dst_mac = pick(5) == 0 ? kRouter : pick(8) == 0 ? vm(99) : vm_of(f.dst_subnet, f.dst);
        f.src_mac = pick(10) == 0 ? vm(98) : vm_of(f.subnet, f.src);
        const uint8_t protocols[] = {ip_protocol::udp, ip_protocol::tcp, ip_protocol::icmp};
        f.protocol = protocols[pick(3)];
        f.port = static_cast<uint16_t>(1000 + pick(3));
        // The way back: sometimes from a PA policy does not give the sender, or to one not ours.
        f.from = pick(6) == 0 ? 12 : static_cast<uint8_t>(11 + f.dst % 3);
        f.to = pick(8) == 0 ? 77 : yellow ? 20 : 10;
        flows.push_back(f);
    }
    for (int round = 0; round < 30; ++round) {
        for (int i = 0; i < 400; ++i) {
            const Flow& f = flows[pick(static_cast<uint32_t>(flows.size()))];
            const size_t payload = pick(6) == 0 ? 560 : pick(40);
            const Bytes frame =
                customer_frame(f.dst_mac, f.src_mac, ca(f.subnet, f.src), ca(f.dst_subnet, f.dst),
                               f.protocol, f.port, payload, static_cast<uint8_t>(1 + pick(3)),
                               static_cast<uint8_t>(pick(4) << 2));
            twin.compare(frame, f.vsid, pick(20) == 0);
            const Bytes inner =
                customer_frame(f.src_mac, f.dst_mac, ca(f.dst_subnet, f.dst), ca(f.subnet, f.src),
                               f.protocol, f.port, payload, 64, 0);
            twin.compare(nvgre_frame(kHostMac, mac(0xB1), pa(f.from), pa(f.to), f.vsid,
                                     static_cast<uint8_t>(pick(256)), inner),
                         0);
        }
        // A policy, neighbour or provider change between rounds, on both sides alike.
        const uint8_t host = static_cast<uint8_t>(2 + pick(8));
        switch (pick(6)) {
        case 0: { // a VM moves to another host
            const uint8_t where = static_cast<uint8_t>(10 + pick(4));
            twin.each([&](Side& s) {
                EXPECT_FALSE(
                    s.policy.set_record({kBlue, 5001, net(ca(1, host)), vm(host), net(pa(where))})
                        .is_error());
            });
            break;
        }
        case 1: // a VM goes away, or comes back
            twin.each([&](Side& s) {
                if (s.policy.remove_record(kYellow, net(ca(1, host))).is_error())
                    EXPECT_FALSE(s.policy
                                     .set_record({kYellow, 6001, net(ca(1, host)), vm(40 + host),
                                                  net(pa(20))})
                                     .is_error());
            });
            break;
        case 2: // a VM's MAC changes
            twin.each([&](Side& s) {
                EXPECT_FALSE(s.policy
                                 .set_record({kBlue, 5002, net(ca(2, host)),
                                              vm(static_cast<uint8_t>(60 + round)), net(pa(11))})
                                 .is_error());
            });
            break;
        case 3: // a neighbour's MAC changes
            twin.each([&](Side& s) {
                EXPECT_FALSE(
                    s.hook->set_provider_neighbor(net(pa(12)), mac(static_cast<uint8_t>(round)))
                        .is_error());
            });
            break;
        case 4: // a host learns a neighbour it had no route to
            twin.each(
                [&](Side& s) { (void)s.hook->set_provider_neighbor(net(pa(13)), mac(0xB3)); });
            break;
        default: // a subnet's gateway changes (no cached decision depends on it)
            twin.each([&](Side& s) {
                EXPECT_FALSE(s.policy.set_subnet({5002, kBlue, net(ca(2, host)), true}).is_error());
            });
            break;
        }
    }
    twin.expect_same_statistics();
    const nv::FlowCacheStatistics& cache = twin.cached.hook->flow_cache_statistics();
    EXPECT_GT(cache.hits, 3u * cache.misses) << "the comparison must mostly exercise cache hits";
    EXPECT_GT(cache.invalidations, 20u);
    EXPECT_EQ(twin.plain.hook->flow_cache_statistics().hits, 0u);
}

// ---- Invalidation, rule by rule, on one cached virtualization ----

struct VswitchCachedHost : ::testing::Test {
    Side side{true, 1500};
    TestPool pool;
    const Bytes to_web =
        customer_frame(vm(5), vm(2), ca(1, 2), ca(1, 5), ip_protocol::udp, 1000, 20, 64, 0);

    void SetUp() override {
        ASSERT_FALSE(side.policy.set_subnet({5001, kBlue, net(ca(1, 1)), true}).is_error());
        ASSERT_FALSE(side.policy.set_subnet({6001, kYellow, net(ca(1, 1)), true}).is_error());
        ASSERT_FALSE(
            side.policy.set_record({kBlue, 5001, net(ca(1, 2)), vm(2), net(pa(10))}).is_error());
        ASSERT_FALSE(
            side.policy.set_record({kBlue, 5001, net(ca(1, 5)), vm(5), net(pa(11))}).is_error());
        ASSERT_FALSE(side.hook->add_local_provider_address(net(pa(10)), kHostMac).is_error());
        ASSERT_FALSE(side.hook->set_provider_neighbor(net(pa(11)), mac(0xB1)).is_error());
        ASSERT_FALSE(side.hook->set_provider_neighbor(net(pa(12)), mac(0xB2)).is_error());
    }

    struct Sent {
        NvgreResult result;
        Bytes bytes;
        uint32_t vsid;
    };
    Sent send(const Bytes& bytes, uint32_t vsid) {
        Frame* f = pool.make(bytes);
        EXPECT_FALSE(parse_headers(*f).is_error());
        f->vsid = vsid;
        const HookContext context{1, 1, Direction::from_port, 0};
        Sent sent;
        sent.result = vsid != 0 ? side.hook->from_customer(context, *f)
                                : side.hook->from_provider(context, *f);
        sent.bytes.assign(f->data(), f->data() + f->length);
        sent.vsid = f->vsid;
        pool.pool().release(f);
        return sent;
    }
    // Sends the flow twice (miss, then hit) and returns the second outcome.
    Sent send_cached(const Bytes& bytes, uint32_t vsid) {
        const uint64_t hits = side.hook->flow_cache_statistics().hits;
        (void)send(bytes, vsid);
        Sent second = send(bytes, vsid);
        EXPECT_EQ(side.hook->flow_cache_statistics().hits, hits + 1) << "second packet hit";
        return second;
    }
    static Ipv4Address outer_destination(const Bytes& packet) {
        return Ipv4Address::from(packet.data() + 14 + 16);
    }
};

TEST_F(VswitchCachedHost, AMovedRecordChangesTheOuterHeadersOfTheNextPacket) {
    Sent before = send_cached(to_web, 5001);
    ASSERT_EQ(before.result.action, NvgreAction::to_provider);
    EXPECT_EQ(outer_destination(before.bytes), pa(11));
    EXPECT_EQ(MacAddress::from(before.bytes.data()), mac(0xB1));
    ASSERT_FALSE(
        side.policy.set_record({kBlue, 5001, net(ca(1, 5)), vm(5), net(pa(12))}).is_error());
    Sent after = send(to_web, 5001);
    ASSERT_EQ(after.result.action, NvgreAction::to_provider);
    EXPECT_EQ(outer_destination(after.bytes), pa(12));
    EXPECT_EQ(MacAddress::from(after.bytes.data()), mac(0xB2));
}

TEST_F(VswitchCachedHost, ARemovedRecordOrANewMacDropsTheNextPacket) {
    ASSERT_EQ(send_cached(to_web, 5001).result.action, NvgreAction::to_provider);
    ASSERT_FALSE(
        side.policy.set_record({kBlue, 5001, net(ca(1, 5)), vm(55), net(pa(11))}).is_error());
    EXPECT_EQ(send(to_web, 5001).result.reason, DropReason::nvgre_no_policy)
        << "MAC no longer the CA's";
    ASSERT_FALSE(side.policy.remove_record(kBlue, net(ca(1, 5))).is_error());
    EXPECT_EQ(send(to_web, 5001).result.reason, DropReason::nvgre_no_route);
}

TEST_F(VswitchCachedHost, NeighbourAndLocalAddressChangesTakeEffectAtOnce) {
    ASSERT_EQ(send_cached(to_web, 5001).result.action, NvgreAction::to_provider);
    ASSERT_FALSE(side.hook->set_provider_neighbor(net(pa(11)), mac(0xC1)).is_error());
    Sent moved = send(to_web, 5001);
    EXPECT_EQ(MacAddress::from(moved.bytes.data()), mac(0xC1));
    // The peer's PA becomes one of ours: the next packet stays on this host.
    ASSERT_FALSE(side.hook->add_local_provider_address(net(pa(11)), kHostMac).is_error());
    Sent local = send(to_web, 5001);
    EXPECT_EQ(local.result.action, NvgreAction::forward_local);
    EXPECT_EQ(local.bytes, to_web);
}

TEST_F(VswitchCachedHost, AReplacedPolicyTableIsNoticed) {
    ASSERT_EQ(send_cached(to_web, 5001).result.action, NvgreAction::to_provider);
    std::vector<nv::RecordSlot> records(16);
    std::vector<nv::SubnetSlot> subnets(8);
    nv::PolicyTable empty = nv::PolicyTable::create(records, subnets).release_value();
    side.policy = empty; // the object the virtualization refers to, replaced wholesale
    EXPECT_EQ(send(to_web, 5001).result.reason, DropReason::nvgre_bad_vsid);
}

TEST_F(VswitchCachedHost, OverlappingAddressesInTwoVirtualSubnetsNeverShareADecision) {
    // Yellow uses the same CAs and even the same MACs as blue, on another PA.
    ASSERT_FALSE(
        side.policy.set_record({kYellow, 6001, net(ca(1, 2)), vm(2), net(pa(10))}).is_error());
    ASSERT_FALSE(
        side.policy.set_record({kYellow, 6001, net(ca(1, 5)), vm(5), net(pa(12))}).is_error());
    for (int i = 0; i < 4; ++i) {
        Sent blue = send(to_web, 5001), yellow = send(to_web, 6001);
        ASSERT_EQ(blue.result.action, NvgreAction::to_provider);
        ASSERT_EQ(yellow.result.action, NvgreAction::to_provider);
        EXPECT_EQ(load_be32(blue.bytes.data() + 14 + 24) >> 8, 5001u);
        EXPECT_EQ(load_be32(yellow.bytes.data() + 14 + 24) >> 8, 6001u);
        EXPECT_EQ(outer_destination(blue.bytes), pa(11));
        EXPECT_EQ(outer_destination(yellow.bytes), pa(12));
        // And back: the same inner frame under each VSID is delivered into its own subnet only.
        const Bytes reply =
            customer_frame(vm(2), vm(5), ca(1, 5), ca(1, 2), ip_protocol::udp, 53, 8, 64, 0);
        Sent blue_in = send(nvgre_frame(kHostMac, mac(0xB1), pa(11), pa(10), 5001, 1, reply), 0);
        Sent yellow_in = send(nvgre_frame(kHostMac, mac(0xB1), pa(11), pa(10), 6001, 1, reply), 0);
        EXPECT_EQ(blue_in.result.action, NvgreAction::forward_local);
        EXPECT_EQ(blue_in.vsid, 5001u);
        EXPECT_EQ(yellow_in.result.reason, DropReason::nvgre_no_policy) << "yellow's web is at .12";
    }
    EXPECT_GT(side.hook->flow_cache_statistics().hits, 8u);
}

TEST_F(VswitchCachedHost, ARecordMoveChangesWhichProviderAddressMayDecapsulate) {
    const Bytes reply =
        customer_frame(vm(2), vm(5), ca(1, 5), ca(1, 2), ip_protocol::tcp, 80, 0, 64, 0);
    const Bytes from_11 = nvgre_frame(kHostMac, mac(0xB1), pa(11), pa(10), 5001, 9, reply);
    const Bytes from_12 = nvgre_frame(kHostMac, mac(0xB2), pa(12), pa(10), 5001, 9, reply);
    EXPECT_EQ(send_cached(from_11, 0).result.action, NvgreAction::forward_local);
    EXPECT_EQ(send_cached(from_12, 0).result.reason, DropReason::nvgre_no_policy);
    ASSERT_FALSE(
        side.policy.set_record({kBlue, 5001, net(ca(1, 5)), vm(5), net(pa(12))}).is_error());
    EXPECT_EQ(send(from_11, 0).result.reason, DropReason::nvgre_no_policy);
    EXPECT_EQ(send(from_12, 0).result.action, NvgreAction::forward_local);
}

TEST(VswitchNvgreFlowCache, RejectsCacheSizesThatAreNotPowersOfTwo) {
    Side side(false, 1500);
    std::vector<nv::CustomerFlowEntry> customer(12);
    std::vector<nv::ProviderFlowEntry> provider(16);
    EXPECT_TRUE(side.hook->set_flow_caches(customer, provider).is_error());
    customer.resize(2);
    EXPECT_TRUE(side.hook->set_flow_caches(customer, provider).is_error());
    customer.resize(16);
    EXPECT_FALSE(side.hook->set_flow_caches(customer, provider).is_error());
    EXPECT_FALSE(side.hook->set_flow_caches({}, {}).is_error()) << "no caches";
}

// ---- The prebuilt outer headers against encapsulate() ----

TEST(VswitchNvgreFlowCache, EncapsulationFromATemplateEqualsEncapsulate) {
    std::mt19937 rng(7);
    auto pick = [&rng](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
    TestPool pool(8, 2048, 128);
    TestPool tight(8, 2048, 40);
    for (int i = 0; i < 3000; ++i) {
        nv::EncapsulationParams params;
        params.outer_source_mac = mac(static_cast<uint8_t>(pick(256)));
        params.outer_destination_mac = mac(static_cast<uint8_t>(pick(256)));
        const bool v6 = pick(3) == 0;
        auto address = [&](bool six) {
            nv::NetAddress a;
            a.is_ipv6 = six;
            for (uint32_t b = 0; b < (six ? 16u : 4u); ++b)
                a.bytes[b] = static_cast<uint8_t>(rng());
            return a;
        };
        params.source_pa = address(v6);
        params.destination_pa = address(pick(30) == 0 ? !v6 : v6); // sometimes mixed families
        params.vsid = pick(30) == 0 ? 5 : 0x1000 + pick(0xFFF000);
        params.flow_id = static_cast<uint8_t>(pick(256));
        params.ttl = static_cast<uint8_t>(pick(256));
        params.traffic_class = static_cast<uint8_t>(pick(256));
        params.ipv4_identification = static_cast<uint16_t>(rng());
        params.provider_mtu = pick(4) == 0 ? pick(120) : 100 + pick(1500);
        const Bytes inner(14 + pick(1400), static_cast<uint8_t>(i));
        TestPool& frames = pick(10) == 0 ? tight : pool;
        Frame* expected = frames.make(inner);
        Frame* actual = frames.make(inner);
        ASSERT_TRUE(expected != nullptr && actual != nullptr);
        const auto direct = nv::encapsulate(*expected, params);
        nv::OuterTemplate outer;
        const bool valid = nv::make_outer_template(params, outer);
        ASSERT_EQ(valid,
                  !(direct.is_error() && direct.error().code() == ErrorCode::invalid_argument));
        if (valid) {
            const auto templated = nv::encapsulate_from(*actual, outer, params.traffic_class,
                                                        params.ipv4_identification);
            ASSERT_EQ(templated.is_error(), direct.is_error()) << i;
            if (direct.is_error()) {
                EXPECT_EQ(templated.error().code(), direct.error().code()) << i;
            } else {
                EXPECT_EQ(Bytes(actual->data(), actual->data() + actual->length),
                          Bytes(expected->data(), expected->data() + expected->length));
                EXPECT_TRUE(same_headers(actual->headers, expected->headers));
            }
            EXPECT_EQ(actual->offset, expected->offset);
            EXPECT_EQ(actual->length, expected->length);
        }
        frames.pool().release(expected);
        frames.pool().release(actual);
    }
}

} // namespace
} // namespace halcyon::vswitch
