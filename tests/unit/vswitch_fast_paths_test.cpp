// The shortcuts of the packet path must agree with the long way round: the parser's one-pass
// parse of common IPv4 frames with its layer-by-layer parse (on valid frames and on corrupted
// ones), the headers encapsulate() writes without parsing with a parse of the NVGRE packet it
// built, and the headers NVGRE decapsulation keeps with a parse of the customer frame.
#include "tests/unit/vswitch_test_packets.hpp"
#include "vswitch/nvgre/network_virtualization.hpp"

#include <gtest/gtest.h>

#include <random>

namespace halcyon::vswitch {
namespace {

using namespace test;
namespace nv = nvgre;

void expect_same_headers(const ParsedHeaders& a, const ParsedHeaders& b, const char* what) {
    SCOPED_TRACE(what);
    EXPECT_EQ(a.flags, b.flags);
    EXPECT_EQ(a.ethertype, b.ethertype);
    EXPECT_EQ(a.outer_tpid, b.outer_tpid);
    EXPECT_EQ(a.outer_tci, b.outer_tci);
    EXPECT_EQ(a.inner_tci, b.inner_tci);
    EXPECT_EQ(a.tag_count, b.tag_count);
    EXPECT_EQ(a.l3, b.l3);
    EXPECT_EQ(a.l3_offset, b.l3_offset);
    EXPECT_EQ(a.l3_end, b.l3_end);
    EXPECT_EQ(a.l4_offset, b.l4_offset);
    EXPECT_EQ(a.payload_offset, b.payload_offset);
    EXPECT_EQ(a.ip_protocol, b.ip_protocol);
    EXPECT_EQ(a.ttl, b.ttl);
    EXPECT_EQ(a.src_port, b.src_port);
    EXPECT_EQ(a.dst_port, b.dst_port);
    EXPECT_EQ(a.tcp_flags, b.tcp_flags);
    EXPECT_EQ(a.icmp_type, b.icmp_type);
    EXPECT_EQ(a.icmp_code, b.icmp_code);
    EXPECT_EQ(a.gre_protocol, b.gre_protocol);
    EXPECT_EQ(a.gre_key, b.gre_key);
}

nv::NetAddress net(Ipv4Address a) {
    return nv::NetAddress::v4(static_cast<uint8_t>(a.value >> 24),
                              static_cast<uint8_t>(a.value >> 16),
                              static_cast<uint8_t>(a.value >> 8), static_cast<uint8_t>(a.value));
}

Bytes gre_frame(uint16_t flags, uint32_t key, const Bytes& inner) {
    Bytes gre;
    put16(gre, flags);
    put16(gre, ethertype::transparent_ethernet);
    put32(gre, key);
    put(gre, inner);
    return ethernet(mac(1), mac(2), ethertype::ipv4,
                    ipv4(ip4(192, 168, 0, 1), ip4(192, 168, 0, 2), ip_protocol::gre, gre));
}

TEST(VswitchFastPaths, CommonFrameParseAgreesWithTheLayeredParseEvenWhenCorrupted) {
    const Bytes inner = udp4_frame(mac(3), mac(4), ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 5, 6);
    const std::vector<Bytes> seeds = {
        udp4_frame(mac(1), mac(2), ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 53, 1000, Bytes(40, 1)),
        tcp4_frame(mac(1), mac(2), ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 80, 40000),
        icmp4_frame(mac(1), mac(2), ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 8),
        gre_frame(0x2000, 0x138901, inner),
        gre_frame(0xB000, 0x1, inner),
        udp4_frame(mac(1), mac(2), ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 1, 2, {}, {{10}}),
    };
    std::mt19937 random(11);
    int parsed = 0, rejected = 0;
    for (int round = 0; round < 40000; ++round) {
        Bytes frame = seeds[round % seeds.size()];
        // Corrupt the headers (the first 60 bytes), sometimes cut the frame short.
        for (uint32_t flips = random() % 4; flips > 0; --flips)
            frame[random() % std::min<size_t>(frame.size(), 60)] ^=
                static_cast<uint8_t>(1u << (random() % 8));
        if (random() % 8 == 0)
            frame.resize(random() % (frame.size() + 1));
        ParsedHeaders fast, layered;
        const auto a = parse_headers(frame, fast);
        const auto b = parse_headers_layered(frame, layered);
        ASSERT_EQ(a.is_error(), b.is_error()) << "round " << round;
        if (a.is_error())
            ASSERT_STREQ(a.error().message(), b.error().message());
        expect_same_headers(fast, layered, "parse");
        if (HasFailure())
            FAIL() << "round " << round;
        (a.is_error() ? rejected : parsed)++;
    }
    EXPECT_GT(parsed, 10000);
    EXPECT_GT(rejected, 1000);
}

TEST(VswitchFastPaths, EncapsulationDescribesTheOuterPacketAsAParseWould) {
    for (bool v6 : {false, true}) {
        TestPool pool;
        Frame* frame = pool.make(
            udp4_frame(mac(3), mac(4), ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 5, 6, Bytes(100, 9)));
        ASSERT_NE(frame, nullptr);
        ASSERT_FALSE(parse_headers(*frame).is_error());
        nv::EncapsulationParams params;
        params.outer_source_mac = mac(0xA0);
        params.outer_destination_mac = mac(0xA1);
        if (v6) {
            params.source_pa = nv::NetAddress::from_wire_v6(ip6(1).bytes.data());
            params.destination_pa = nv::NetAddress::from_wire_v6(ip6(2).bytes.data());
        } else {
            params.source_pa = net(ip4(192, 168, 1, 10));
            params.destination_pa = net(ip4(192, 168, 1, 11));
        }
        params.vsid = 5001;
        params.flow_id = 0x5A;
        params.ttl = 33;
        params.traffic_class = 0x28;
        params.ipv4_identification = 0x4321;
        params.provider_mtu = 9000;
        ASSERT_FALSE(nv::encapsulate(*frame, params).is_error());
        const ParsedHeaders written = frame->headers;
        ASSERT_FALSE(parse_headers(*frame).is_error());
        expect_same_headers(written, frame->headers, v6 ? "IPv6 provider" : "IPv4 provider");
        if (!v6) {
            const uint8_t* ip = frame->data() + kEthernetHeaderSize;
            EXPECT_TRUE(ipv4_header_checksum_valid({ip, 20}));
        }
        pool.pool().release(frame);
    }
}

TEST(VswitchFastPaths, DecapsulationKeepsTheHeadersOfTheCustomerFrame) {
    std::vector<nv::RecordSlot> records(16);
    std::vector<nv::SubnetSlot> subnets(8);
    nv::PolicyTable policy = nv::PolicyTable::create(records, subnets).release_value();
    const nv::RoutingDomainId domain{1, 2};
    ASSERT_FALSE(policy.set_subnet({5001, domain, {}, false}).is_error());
    ASSERT_FALSE(
        policy.set_record({domain, 5001, net(ip4(10, 1, 1, 2)), mac(9), net(ip4(192, 168, 1, 10))})
            .is_error());
    ASSERT_FALSE(
        policy.set_record({domain, 5001, net(ip4(10, 1, 1, 4)), mac(40), net(ip4(192, 168, 1, 11))})
            .is_error());
    nv::NetworkVirtualization virtualization(policy, {});
    ASSERT_FALSE(
        virtualization.add_local_provider_address(net(ip4(192, 168, 1, 10)), mac(0xA0)).is_error());
    const std::vector<Bytes> inners = {
        udp4_frame(mac(9), mac(40), ip4(10, 1, 1, 4), ip4(10, 1, 1, 2), 5, 6, Bytes(30, 1)),
        tcp4_frame(mac(9), mac(40), ip4(10, 1, 1, 4), ip4(10, 1, 1, 2), 80, 1234),
        icmp4_frame(mac(9), mac(40), ip4(10, 1, 1, 4), ip4(10, 1, 1, 2), 0, 0, {{7}}),
    };
    for (const Bytes& inner : inners) {
        TestPool pool;
        Frame* frame = pool.make(nvgre_frame(mac(0xA0), mac(0xA1), ip4(192, 168, 1, 11),
                                             ip4(192, 168, 1, 10), 5001, 7, inner));
        ASSERT_FALSE(parse_headers(*frame).is_error());
        const NvgreResult result = virtualization.from_provider({}, *frame);
        ASSERT_EQ(result.action, NvgreAction::forward_local);
        ASSERT_EQ(Bytes(frame->data(), frame->data() + frame->length), inner);
        const ParsedHeaders kept = frame->headers;
        ASSERT_FALSE(parse_headers(*frame).is_error());
        expect_same_headers(kept, frame->headers, "decapsulated");
        pool.pool().release(frame);
    }
}

} // namespace
} // namespace halcyon::vswitch
