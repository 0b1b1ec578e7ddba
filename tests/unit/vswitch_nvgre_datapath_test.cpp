// NVGRE datapath: encapsulation (RFC 7637 header, IPv4 checksum checked by an independent
// verifier, TTL, DF), decapsulation round trips and every decapsulation check, provider MTU,
// routing between virtual subnets of one routing domain, isolation between routing domains, and
// ARP answered from policy. Two simulated hosts share one policy, as in the seeds' Blue/Yellow
// example (SQL VMs on host 1, WEB VMs on host 2).
#include "vswitch/nvgre/network_virtualization.hpp"
#include "vswitch/packet/parser.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

namespace {

using namespace halcyon::vswitch::nvgre;
namespace vs = halcyon::vswitch;
using vs::MacAddress;
using vs::NvgreResult;

// ---- An independent RFC 1071 checksum (not the library's) ----

uint32_t sum16(const uint8_t* p, size_t n, uint32_t sum = 0) {
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
    if (n % 2)
        sum += static_cast<uint32_t>(p[n - 1] << 8);
    return sum;
}
uint16_t fold(uint32_t sum) {
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    return static_cast<uint16_t>(~sum & 0xFFFF);
}
bool ipv4_header_ok(const uint8_t* ip) {
    return fold(sum16(ip, (ip[0] & 0xF) * 4u)) == 0;
}
bool udp_v4_ok(const uint8_t* ip) {
    const size_t ihl = (ip[0] & 0xF) * 4u;
    const uint8_t* udp = ip + ihl;
    const size_t udp_length = static_cast<size_t>(udp[4] << 8 | udp[5]);
    uint32_t pseudo = sum16(ip + 12, 8) + 17 + static_cast<uint32_t>(udp_length);
    return fold(sum16(udp, udp_length, pseudo)) == 0;
}

// ---- A small frame builder ----

std::vector<uint8_t> ethernet(const MacAddress& dst, const MacAddress& src, uint16_t type) {
    std::vector<uint8_t> f(dst.bytes.begin(), dst.bytes.end());
    f.insert(f.end(), src.bytes.begin(), src.bytes.end());
    f.push_back(static_cast<uint8_t>(type >> 8));
    f.push_back(static_cast<uint8_t>(type));
    return f;
}

std::vector<uint8_t> udp_v4(const MacAddress& dst_mac, const MacAddress& src_mac, NetAddress src,
                            NetAddress dst, uint16_t sport, uint16_t dport, size_t payload,
                            uint8_t ttl = 64) {
    std::vector<uint8_t> f = ethernet(dst_mac, src_mac, 0x0800);
    const size_t total = 20 + 8 + payload;
    uint8_t ip[20] = {0x45,
                      0x10,
                      static_cast<uint8_t>(total >> 8),
                      static_cast<uint8_t>(total),
                      0x12,
                      0x34,
                      0,
                      0,
                      ttl,
                      17,
                      0,
                      0};
    std::memcpy(ip + 12, src.bytes.data(), 4);
    std::memcpy(ip + 16, dst.bytes.data(), 4);
    const uint16_t ip_checksum = fold(sum16(ip, 20));
    ip[10] = static_cast<uint8_t>(ip_checksum >> 8);
    ip[11] = static_cast<uint8_t>(ip_checksum);
    f.insert(f.end(), ip, ip + 20);
    const size_t udp_start = f.size();
    const size_t udp_length = 8 + payload;
    uint8_t udp[8] = {static_cast<uint8_t>(sport >> 8),
                      static_cast<uint8_t>(sport),
                      static_cast<uint8_t>(dport >> 8),
                      static_cast<uint8_t>(dport),
                      static_cast<uint8_t>(udp_length >> 8),
                      static_cast<uint8_t>(udp_length),
                      0,
                      0};
    f.insert(f.end(), udp, udp + 8);
    for (size_t i = 0; i < payload; ++i)
        f.push_back(static_cast<uint8_t>(i * 7 + 3));
    uint32_t pseudo = sum16(ip + 12, 8) + 17 + static_cast<uint32_t>(udp_length);
    uint16_t c = fold(sum16(f.data() + udp_start, udp_length, pseudo));
    f[udp_start + 6] = static_cast<uint8_t>(c >> 8);
    f[udp_start + 7] = static_cast<uint8_t>(c);
    return f;
}

std::vector<uint8_t> arp_request(const MacAddress& sender_mac, NetAddress sender,
                                 NetAddress target) {
    std::vector<uint8_t> f = ethernet(vs::kBroadcastMac, sender_mac, 0x0806);
    const uint8_t head[8] = {0, 1, 0x08, 0, 6, 4, 0, 1};
    f.insert(f.end(), head, head + 8);
    f.insert(f.end(), sender_mac.bytes.begin(), sender_mac.bytes.end());
    f.insert(f.end(), sender.bytes.begin(), sender.bytes.begin() + 4);
    f.insert(f.end(), 6, 0);
    f.insert(f.end(), target.bytes.begin(), target.bytes.begin() + 4);
    f.resize(60, 0); // Ethernet minimum, as guests send it
    return f;
}

struct TestFrame {
    std::vector<uint8_t> storage = std::vector<uint8_t>(4096);
    vs::Frame frame;

    TestFrame(const std::vector<uint8_t>& bytes, uint32_t vsid, uint32_t headroom = 128) {
        frame.buffer = storage.data();
        frame.capacity = static_cast<uint32_t>(storage.size());
        frame.offset = headroom;
        frame.length = static_cast<uint32_t>(bytes.size());
        std::memcpy(frame.data(), bytes.data(), bytes.size());
        frame.vsid = vsid;
        EXPECT_FALSE(vs::parse_headers(frame).is_error());
    }
    std::vector<uint8_t> bytes() const { return {frame.data(), frame.data() + frame.length}; }
    const uint8_t* at(size_t offset) const { return frame.data() + offset; }
};

uint16_t be16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
uint32_t be32(const uint8_t* p) {
    return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
MacAddress mac_at(const uint8_t* p) {
    return MacAddress::from(p);
}

// ---- The two-host world ----

constexpr RoutingDomainId kBlue{0x1111111122223333ull, 0x4444000000000001ull};
constexpr RoutingDomainId kYellow{0x1111111122223333ull, 0x4444000000000002ull};
const MacAddress kRouterMac{{0x00, 0x15, 0x5D, 0xFF, 0xFF, 0x01}};
const MacAddress kHost1Mac{{0x52, 0x54, 0, 0, 0, 0x01}};
const MacAddress kHost2Mac{{0x52, 0x54, 0, 0, 0, 0x02}};
const NetAddress kBluePa1 = NetAddress::v4(192, 168, 1, 10),
                 kYellowPa1 = NetAddress::v4(192, 168, 1, 11);
const NetAddress kBluePa2 = NetAddress::v4(192, 168, 1, 12),
                 kYellowPa2 = NetAddress::v4(192, 168, 1, 13);

MacAddress vm_mac(uint8_t n) {
    return MacAddress{{0x00, 0x15, 0x5D, 0x00, 0x00, n}};
}

const NetAddress kSql = NetAddress::v4(10, 1, 1, 11), kWeb = NetAddress::v4(10, 1, 1, 12);
const NetAddress kApp1 = NetAddress::v4(10, 1, 2, 21), kApp2 = NetAddress::v4(10, 1, 2, 22);

struct Host {
    std::vector<RecordSlot> records = std::vector<RecordSlot>(PolicyTable::slot_count_for(64));
    std::vector<SubnetSlot> subnets = std::vector<SubnetSlot>(PolicyTable::slot_count_for(8));
    PolicyTable policy = PolicyTable::create(records, subnets).release_value();
    std::unique_ptr<NetworkVirtualization> nv;

    explicit Host(bool first, uint32_t mtu = 1500, bool ipv6_pas = false) {
        ProviderConfig config;
        config.mtu = mtu;
        config.vlan_id = 100;
        config.router_mac = kRouterMac;
        nv = std::make_unique<NetworkVirtualization>(policy, config);
        auto pa = [ipv6_pas](NetAddress v4) {
            if (!ipv6_pas)
                return v4;
            NetAddress v6;
            v6.is_ipv6 = true;
            v6.bytes = {0x20, 0x01, 0x0D, 0xB8, 0,           0,           0,           0,
                        0,    0,    0,    0,    v4.bytes[0], v4.bytes[1], v4.bytes[2], v4.bytes[3]};
            return v6;
        };
        EXPECT_FALSE(
            policy.set_subnet({5001, kBlue, NetAddress::v4(10, 1, 1, 1), true}).is_error());
        EXPECT_FALSE(
            policy.set_subnet({5002, kBlue, NetAddress::v4(10, 1, 2, 1), true}).is_error());
        EXPECT_FALSE(
            policy.set_subnet({6001, kYellow, NetAddress::v4(10, 1, 1, 1), true}).is_error());
        const LookupRecord records_[] = {
            {kBlue, 5001, kSql, vm_mac(1), pa(kBluePa1)},
            {kBlue, 5001, kWeb, vm_mac(2), pa(kBluePa2)},
            {kBlue, 5002, kApp1, vm_mac(3), pa(kBluePa1)},
            {kBlue, 5002, kApp2, vm_mac(4), pa(kBluePa2)},
            {kYellow, 6001, kSql, vm_mac(11), pa(kYellowPa1)},
            {kYellow, 6001, kWeb, vm_mac(12), pa(kYellowPa2)},
        };
        for (const LookupRecord& r : records_)
            EXPECT_FALSE(policy.set_record(r).is_error());
        const MacAddress own = first ? kHost1Mac : kHost2Mac;
        const MacAddress peer = first ? kHost2Mac : kHost1Mac;
        for (const NetAddress& a :
             first ? std::vector{kBluePa1, kYellowPa1} : std::vector{kBluePa2, kYellowPa2})
            EXPECT_FALSE(nv->add_local_provider_address(pa(a), own).is_error());
        for (const NetAddress& a :
             first ? std::vector{kBluePa2, kYellowPa2} : std::vector{kBluePa1, kYellowPa1})
            EXPECT_FALSE(nv->set_provider_neighbor(pa(a), peer).is_error());
    }
    NvgreResult send(TestFrame& f) {
        return nv->from_customer({1, 1, vs::Direction::from_port, 0}, f.frame);
    }
    NvgreResult receive(TestFrame& f) {
        return nv->from_provider({0, 0, vs::Direction::from_port, 0}, f.frame);
    }
};

TEST(VswitchNvgreDatapath, EncapsulationFollowsRfc7637) {
    Host host1(true);
    const std::vector<uint8_t> inner = udp_v4(vm_mac(2), vm_mac(1), kSql, kWeb, 40000, 1433, 100);
    TestFrame f(inner, 5001);
    NvgreResult r = host1.send(f);
    ASSERT_EQ(r.action, vs::NvgreAction::to_provider);
    ASSERT_EQ(f.frame.length, inner.size() + kOuterIpv4Overhead);
    // Outer Ethernet: host1 -> host2, IPv4.
    EXPECT_EQ(mac_at(f.at(0)), kHost2Mac);
    EXPECT_EQ(mac_at(f.at(6)), kHost1Mac);
    EXPECT_EQ(be16(f.at(12)), 0x0800);
    const uint8_t* ip = f.at(14);
    EXPECT_EQ(ip[0], 0x45);
    EXPECT_EQ(ip[1], 0x10) << "DSCP/ECN copied from the customer packet";
    EXPECT_EQ(be16(ip + 2), 20 + 8 + inner.size());
    EXPECT_EQ(be16(ip + 6), 0x4000) << "DF set, no fragment offset";
    EXPECT_EQ(ip[8], 64);
    EXPECT_EQ(ip[9], 47);
    EXPECT_TRUE(ipv4_header_ok(ip));
    EXPECT_EQ(NetAddress::from_wire_v4(ip + 12), kBluePa1);
    EXPECT_EQ(NetAddress::from_wire_v4(ip + 16), kBluePa2);
    // GRE: only K, version 0, Transparent Ethernet Bridging, key = VSID << 8 | FlowID.
    const uint8_t* gre = ip + 20;
    EXPECT_EQ(be16(gre), 0x2000);
    EXPECT_EQ(be16(gre + 2), 0x6558);
    EXPECT_EQ(be32(gre + 4) >> 8, 5001u);
    EXPECT_EQ(be32(gre + 4) & 0xFF, f.frame.flow_id);
    EXPECT_EQ(std::vector<uint8_t>(gre + 8, gre + 8 + inner.size()), inner);
    EXPECT_EQ(f.frame.vlan_id, 100);
    EXPECT_TRUE(f.frame.headers.has(vs::parse_flag::gre_key)) << "re-parsed after encapsulation";
    EXPECT_EQ(host1.nv->statistics().encapsulated, 1u);
}

TEST(VswitchNvgreDatapath, RoundTripDeliversTheCustomerFrameUnchanged) {
    Host host1(true), host2(false);
    const std::vector<uint8_t> inner = udp_v4(vm_mac(2), vm_mac(1), kSql, kWeb, 40000, 1433, 333);
    TestFrame f(inner, 5001);
    ASSERT_EQ(host1.send(f).action, vs::NvgreAction::to_provider);
    f.frame.vsid = 0; // the wire carries no out-of-band data
    NvgreResult r = host2.receive(f);
    ASSERT_EQ(r.action, vs::NvgreAction::forward_local);
    EXPECT_EQ(f.bytes(), inner);
    EXPECT_EQ(f.frame.vsid, 5001u);
    EXPECT_EQ(f.frame.vlan_id, 0);
    EXPECT_TRUE(udp_v4_ok(f.at(14)));
    EXPECT_TRUE(ipv4_header_ok(f.at(14)));
    EXPECT_EQ(host2.nv->statistics().decapsulated, 1u);
}

TEST(VswitchNvgreDatapath, FlowIdIsStablePerFlowAndSpreadsAcrossFlows) {
    Host host1(true);
    std::vector<bool> seen(256);
    int distinct = 0;
    for (uint16_t port = 1000; port < 1064; ++port) {
        TestFrame a(udp_v4(vm_mac(2), vm_mac(1), kSql, kWeb, port, 53, 20), 5001);
        TestFrame b(udp_v4(vm_mac(2), vm_mac(1), kSql, kWeb, port, 53, 90), 5001);
        ASSERT_EQ(host1.send(a).action, vs::NvgreAction::to_provider);
        ASSERT_EQ(host1.send(b).action, vs::NvgreAction::to_provider);
        EXPECT_EQ(a.frame.flow_id, b.frame.flow_id);
        if (!seen[a.frame.flow_id]) {
            seen[a.frame.flow_id] = true;
            ++distinct;
        }
    }
    EXPECT_GT(distinct, 40);
}

TEST(VswitchNvgreDatapath, Ipv6ProviderNetwork) {
    Host host1(true, 1500, true), host2(false, 1500, true);
    const std::vector<uint8_t> inner = udp_v4(vm_mac(2), vm_mac(1), kSql, kWeb, 5, 6, 50);
    TestFrame f(inner, 5001);
    ASSERT_EQ(host1.send(f).action, vs::NvgreAction::to_provider);
    ASSERT_EQ(f.frame.length, inner.size() + kOuterIpv6Overhead);
    EXPECT_EQ(be16(f.at(12)), 0x86DD);
    const uint8_t* ip = f.at(14);
    EXPECT_EQ(ip[0] >> 4, 6);
    EXPECT_EQ(be16(ip + 4), 8 + inner.size());
    EXPECT_EQ(ip[6], 47);
    EXPECT_EQ(ip[7], 64);
    EXPECT_EQ(be16(ip + 40), 0x2000);
    EXPECT_EQ(be16(ip + 42), 0x6558);
    EXPECT_EQ(be32(ip + 44) >> 8, 5001u);
    ASSERT_EQ(host2.receive(f).action, vs::NvgreAction::forward_local);
    EXPECT_EQ(f.bytes(), inner);
}

TEST(VswitchNvgreDatapath, FramesOverTheProviderMtuAreDroppedAndCounted) {
    Host host1(true, 1500);
    // 1500 - 20 (IP) - 8 (GRE) = 1472 bytes of customer frame fit exactly.
    TestFrame fits(udp_v4(vm_mac(2), vm_mac(1), kSql, kWeb, 1, 2, 1472 - 42), 5001);
    ASSERT_EQ(fits.frame.length, 1472u);
    EXPECT_EQ(host1.send(fits).action, vs::NvgreAction::to_provider);
    EXPECT_EQ(be16(fits.at(16)), 1500);
    const std::vector<uint8_t> big = udp_v4(vm_mac(2), vm_mac(1), kSql, kWeb, 1, 2, 1473 - 42);
    TestFrame over(big, 5001);
    NvgreResult r = host1.send(over);
    EXPECT_EQ(r.action, vs::NvgreAction::drop);
    EXPECT_EQ(r.reason, vs::DropReason::nvgre_mtu_exceeded);
    EXPECT_EQ(over.bytes(), big) << "a refused frame is left as it was";
    EXPECT_EQ(host1.nv->statistics().drops[vs::DropReason::nvgre_mtu_exceeded], 1u);
}

// Encapsulates a Blue SQL -> WEB frame on host 1 and lets `mutate` damage it before host 2 sees it.
template <typename Mutate>
NvgreResult deliver_mutated(Mutate mutate, uint32_t payload = 64) {
    Host host1(true), host2(false);
    TestFrame f(udp_v4(vm_mac(2), vm_mac(1), kSql, kWeb, 7, 8, payload), 5001);
    EXPECT_EQ(host1.send(f).action, vs::NvgreAction::to_provider);
    mutate(f.frame.data());
    // Keep the outer IPv4 checksum right so only the intended field is wrong.
    uint8_t* ip = f.frame.data() + 14;
    ip[10] = ip[11] = 0;
    uint16_t c = fold(sum16(ip, 20));
    ip[10] = static_cast<uint8_t>(c >> 8);
    ip[11] = static_cast<uint8_t>(c);
    if (vs::parse_headers(f.frame).is_error())
        return {vs::NvgreAction::drop, vs::DropReason::malformed};
    NvgreResult r = host2.receive(f);
    if (r.action == vs::NvgreAction::drop)
        EXPECT_EQ(host2.nv->statistics().drops[r.reason], 1u) << "every drop is counted";
    return r;
}

void set_vsid(uint8_t* frame, uint32_t vsid) {
    uint8_t* key = frame + 14 + 20 + 4;
    key[0] = static_cast<uint8_t>(vsid >> 16);
    key[1] = static_cast<uint8_t>(vsid >> 8);
    key[2] = static_cast<uint8_t>(vsid);
}

TEST(VswitchNvgreDatapath, DecapsulationChecksEverything) {
    using vs::DropReason;
    using vs::NvgreAction;
    auto reason = [](auto mutate) {
        NvgreResult r = deliver_mutated(mutate);
        return r.action == NvgreAction::drop ? r.reason : DropReason::count;
    };
    EXPECT_EQ(deliver_mutated([](uint8_t*) {}).action, NvgreAction::forward_local);
    // GRE flags: checksum bit, sequence bit, no key, version 1 - all not NVGRE.
    EXPECT_EQ(reason([](uint8_t* p) { p[34] = 0xA0; }), DropReason::nvgre_malformed);
    EXPECT_EQ(reason([](uint8_t* p) { p[34] = 0x30; }), DropReason::nvgre_malformed);
    EXPECT_EQ(reason([](uint8_t* p) { p[34] = 0x00; }), DropReason::nvgre_malformed);
    EXPECT_EQ(reason([](uint8_t* p) { p[35] = 0x01; }), DropReason::nvgre_malformed); // version 1
    // GRE carrying something other than Ethernet is not ours at all.
    EXPECT_EQ(deliver_mutated([](uint8_t* p) {
                  p[36] = 0x08;
                  p[37] = 0x00;
              }).action,
              NvgreAction::not_nvgre);
    // VSIDs: unknown, reserved, all-ones.
    EXPECT_EQ(reason([](uint8_t* p) { set_vsid(p, 5003); }), DropReason::nvgre_bad_vsid);
    EXPECT_EQ(reason([](uint8_t* p) { set_vsid(p, 0x000FFF); }), DropReason::nvgre_bad_vsid);
    EXPECT_EQ(reason([](uint8_t* p) { set_vsid(p, 0xFFFFFF); }), DropReason::nvgre_bad_vsid);
    // A VSID of another routing domain: the inner CAs are not Yellow's records at these PAs.
    EXPECT_EQ(reason([](uint8_t* p) { set_vsid(p, 6001); }), DropReason::nvgre_no_policy);
    // The right domain but the wrong subnet for the destination CA.
    EXPECT_EQ(reason([](uint8_t* p) { set_vsid(p, 5002); }), DropReason::nvgre_no_policy);
    // Outer destination not one of host 2's PAs.
    EXPECT_EQ(reason([](uint8_t* p) { p[14 + 19] = 99; }), DropReason::nvgre_not_provider_address);
    // Outer source PA not the one policy gives the inner source CA (spoofed tunnel endpoint).
    EXPECT_EQ(reason([](uint8_t* p) { p[14 + 15] = 13; }), DropReason::nvgre_no_policy);
    // Inner destination CA not in policy / inner destination MAC not the CA's.
    EXPECT_EQ(reason([](uint8_t* p) { p[42 + 14 + 19] = 77; }), DropReason::nvgre_no_policy);
    EXPECT_EQ(reason([](uint8_t* p) { p[42 + 5] = 0x77; }), DropReason::nvgre_no_policy);
    // Inner source CA unknown.
    EXPECT_EQ(reason([](uint8_t* p) { p[42 + 14 + 15] = 200; }), DropReason::nvgre_no_policy);
    // Inner broadcast never arrives over the provider network.
    EXPECT_EQ(reason([](uint8_t* p) { std::memset(p + 42, 0xFF, 6); }),
              DropReason::nvgre_no_policy);
}

TEST(VswitchNvgreDatapath, TruncatedInnerFrameIsMalformed) {
    Host host1(true), host2(false);
    TestFrame f(udp_v4(vm_mac(2), vm_mac(1), kSql, kWeb, 7, 8, 64), 5001);
    ASSERT_EQ(host1.send(f).action, vs::NvgreAction::to_provider);
    // Cut the outer IP packet right after 10 bytes of the customer frame.
    const uint32_t keep = 14 + 20 + 8 + 10;
    uint8_t* ip = f.frame.data() + 14;
    ip[2] = 0;
    ip[3] = static_cast<uint8_t>(keep - 14);
    ip[10] = ip[11] = 0;
    uint16_t c = fold(sum16(ip, 20));
    ip[10] = static_cast<uint8_t>(c >> 8);
    ip[11] = static_cast<uint8_t>(c);
    ASSERT_TRUE(f.frame.set_length(keep));
    ASSERT_FALSE(vs::parse_headers(f.frame).is_error());
    NvgreResult r = host2.receive(f);
    EXPECT_EQ(r.action, vs::NvgreAction::drop);
    EXPECT_EQ(r.reason, vs::DropReason::nvgre_malformed);
}

TEST(VswitchNvgreDatapath, NonNvgreProviderTrafficIsLeftToTheSwitch) {
    Host host2(false);
    TestFrame plain(udp_v4(kHost2Mac, kHost1Mac, kBluePa1, kBluePa2, 1, 2, 10), 0);
    EXPECT_EQ(host2.receive(plain).action, vs::NvgreAction::not_nvgre);
    TestFrame arp(arp_request(kHost1Mac, kBluePa1, kBluePa2), 0);
    EXPECT_EQ(host2.receive(arp).action, vs::NvgreAction::not_nvgre);
}

// ---- Routing between virtual subnets, routing-domain isolation, ARP from policy ----

TEST(VswitchNvgreDatapath, RoutesBetweenSubnetsOfOneDomain) {
    Host host1(true), host2(false);
    // SQL (5001, host 1) talks to APP2 (5002, host 2) through its default gateway's MAC.
    const std::vector<uint8_t> original = udp_v4(kRouterMac, vm_mac(1), kSql, kApp2, 9, 10, 80, 64);
    TestFrame f(original, 5001);
    ASSERT_EQ(host1.send(f).action, vs::NvgreAction::to_provider);
    EXPECT_EQ(be32(f.at(14 + 20 + 4)) >> 8, 5002u) << "the wire carries the destination subnet";
    EXPECT_EQ(NetAddress::from_wire_v4(f.at(14 + 16)), kBluePa2);
    const uint8_t* inner = f.at(kOuterIpv4Overhead);
    EXPECT_EQ(mac_at(inner), vm_mac(4));
    EXPECT_EQ(mac_at(inner + 6), kRouterMac);
    EXPECT_EQ(inner[14 + 8], 63) << "a router decrements the TTL";
    EXPECT_TRUE(ipv4_header_ok(inner + 14)) << "and fixes the header checksum";
    EXPECT_TRUE(udp_v4_ok(inner + 14));
    EXPECT_EQ(host1.nv->statistics().routed, 1u);
    ASSERT_EQ(host2.receive(f).action, vs::NvgreAction::forward_local);
    EXPECT_EQ(f.frame.vsid, 5002u);
    EXPECT_EQ(mac_at(f.at(0)), vm_mac(4));
}

TEST(VswitchNvgreDatapath, SameHostTrafficNeverLeavesTheHost) {
    Host host1(true);
    TestFrame f(udp_v4(kRouterMac, vm_mac(1), kSql, kApp1, 9, 10, 80), 5001);
    NvgreResult r = host1.send(f);
    EXPECT_EQ(r.action, vs::NvgreAction::forward_local);
    EXPECT_EQ(f.frame.vsid, 5002u);
    EXPECT_EQ(f.frame.length, 14u + 20 + 8 + 80) << "not encapsulated";
    EXPECT_EQ(mac_at(f.at(0)), vm_mac(3));
    EXPECT_EQ(host1.nv->statistics().delivered_locally, 1u);
    EXPECT_EQ(host1.nv->statistics().encapsulated, 0u);
}

TEST(VswitchNvgreDatapath, RoutingDomainsAreIsolated) {
    Host host1(true);
    // Yellow SQL sends to APP2's address, which exists only in Blue: no route.
    TestFrame to_blue(udp_v4(kRouterMac, vm_mac(11), kSql, kApp2, 1, 2, 10), 6001);
    NvgreResult r = host1.send(to_blue);
    EXPECT_EQ(r.action, vs::NvgreAction::drop);
    EXPECT_EQ(r.reason, vs::DropReason::nvgre_no_route);
    // Yellow SQL -> 10.1.1.12 reaches Yellow WEB (PA .13, VSID 6001), never Blue WEB.
    TestFrame to_web(udp_v4(vm_mac(12), vm_mac(11), kSql, kWeb, 1, 2, 10), 6001);
    ASSERT_EQ(host1.send(to_web).action, vs::NvgreAction::to_provider);
    EXPECT_EQ(NetAddress::from_wire_v4(to_web.at(14 + 12)), kYellowPa1);
    EXPECT_EQ(NetAddress::from_wire_v4(to_web.at(14 + 16)), kYellowPa2);
    EXPECT_EQ(be32(to_web.at(14 + 20 + 4)) >> 8, 6001u);
    // A Yellow VM using Blue SQL's MAC as its source is not in policy.
    TestFrame spoofed(udp_v4(vm_mac(12), vm_mac(1), kSql, kWeb, 1, 2, 10), 6001);
    EXPECT_EQ(host1.send(spoofed).reason, vs::DropReason::nvgre_no_policy);
}

TEST(VswitchNvgreDatapath, SenderChecksAndTtl) {
    Host host1(true);
    // Source CA not on this host (Blue WEB lives on host 2).
    TestFrame remote_source(udp_v4(vm_mac(1), vm_mac(2), kWeb, kSql, 1, 2, 10), 5001);
    EXPECT_EQ(host1.send(remote_source).reason, vs::DropReason::nvgre_no_policy);
    // A frame tagged with a subnet nobody configured.
    TestFrame unknown(udp_v4(vm_mac(2), vm_mac(1), kSql, kWeb, 1, 2, 10), 7777);
    EXPECT_EQ(host1.send(unknown).reason, vs::DropReason::nvgre_bad_vsid);
    // Unknown destination CA.
    TestFrame nowhere(udp_v4(vm_mac(2), vm_mac(1), kSql, NetAddress::v4(10, 1, 1, 99), 1, 2, 10),
                      5001);
    EXPECT_EQ(host1.send(nowhere).reason, vs::DropReason::nvgre_no_route);
    // Routing a packet whose TTL would reach zero.
    TestFrame dying(udp_v4(kRouterMac, vm_mac(1), kSql, kApp2, 1, 2, 10, 1), 5001);
    EXPECT_EQ(host1.send(dying).reason, vs::DropReason::nvgre_ttl_expired);
    // Broadcasts stay among the subnet's local ports.
    TestFrame broadcast(
        udp_v4(vs::kBroadcastMac, vm_mac(1), kSql, NetAddress::v4(255, 255, 255, 255), 68, 67, 10),
        5001);
    EXPECT_EQ(host1.send(broadcast).action, vs::NvgreAction::forward_local);
    EXPECT_EQ(broadcast.frame.length, 14u + 20 + 8 + 10);
}

void expect_arp_reply(TestFrame& f, const MacAddress& answer, NetAddress answered,
                      const MacAddress& requester, NetAddress requester_ip) {
    EXPECT_EQ(mac_at(f.at(0)), requester);
    EXPECT_EQ(mac_at(f.at(6)), answer);
    EXPECT_EQ(be16(f.at(12)), 0x0806);
    EXPECT_EQ(be16(f.at(14 + 6)), 2) << "ARP reply";
    EXPECT_EQ(mac_at(f.at(14 + 8)), answer);
    EXPECT_EQ(NetAddress::from_wire_v4(f.at(14 + 14)), answered);
    EXPECT_EQ(mac_at(f.at(14 + 18)), requester);
    EXPECT_EQ(NetAddress::from_wire_v4(f.at(14 + 24)), requester_ip);
}

TEST(VswitchNvgreDatapath, ArpIsAnsweredFromPolicy) {
    Host host1(true);
    TestFrame gateway(arp_request(vm_mac(1), kSql, NetAddress::v4(10, 1, 1, 1)), 5001);
    ASSERT_EQ(host1.send(gateway).action, vs::NvgreAction::reply);
    expect_arp_reply(gateway, kRouterMac, NetAddress::v4(10, 1, 1, 1), vm_mac(1), kSql);

    TestFrame peer(arp_request(vm_mac(1), kSql, kWeb), 5001);
    ASSERT_EQ(host1.send(peer).action, vs::NvgreAction::reply);
    expect_arp_reply(peer, vm_mac(2), kWeb, vm_mac(1), kSql);

    // Yellow asking for the same address gets Yellow's WEB.
    TestFrame yellow(arp_request(vm_mac(11), kSql, kWeb), 6001);
    ASSERT_EQ(host1.send(yellow).action, vs::NvgreAction::reply);
    expect_arp_reply(yellow, vm_mac(12), kWeb, vm_mac(11), kSql);

    // Nothing in policy (or only in another domain): dropped, never broadcast to the provider.
    TestFrame unknown(arp_request(vm_mac(1), kSql, NetAddress::v4(10, 1, 1, 77)), 5001);
    EXPECT_EQ(host1.send(unknown).reason, vs::DropReason::nvgre_no_route);
    TestFrame other_domain(arp_request(vm_mac(11), kSql, kApp2), 6001);
    EXPECT_EQ(host1.send(other_domain).reason, vs::DropReason::nvgre_no_route);
    EXPECT_EQ(host1.nv->statistics().arp_replies, 3u);
    EXPECT_EQ(host1.nv->statistics().encapsulated, 0u);
}

} // namespace
