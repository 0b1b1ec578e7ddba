// The header parser: every protocol it knows, and that no truncation or corruption of a valid
// frame makes it read outside the frame (ASan would catch an overread; the frame is copied into an
// exactly-sized heap buffer for that reason).
#include "tests/unit/vswitch_test_packets.hpp"

#include <gtest/gtest.h>

namespace halcyon::vswitch {
namespace {

using namespace test;

ParsedHeaders parse_ok(const Bytes& bytes) {
    ParsedHeaders h;
    auto result = parse_headers(std::span<const uint8_t>(bytes), h);
    EXPECT_FALSE(result.is_error()) << (result.is_error() ? result.error().message() : "");
    return h;
}

bool parse_fails(const Bytes& bytes) {
    // An exactly-sized heap copy so any overread is an ASan report, not a silent pass.
    std::unique_ptr<uint8_t[]> copy(new uint8_t[bytes.size() ? bytes.size() : 1]);
    if (!bytes.empty())
        std::memcpy(copy.get(), bytes.data(), bytes.size());
    ParsedHeaders h;
    return parse_headers(std::span<const uint8_t>(copy.get(), bytes.size()), h).is_error();
}

TEST(VswitchParser, UdpOverIpv4) {
    Bytes f = udp4_frame(mac(2), mac(1), ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 1234, 53, {1, 2, 3});
    ParsedHeaders h = parse_ok(f);
    EXPECT_EQ(h.l3, L3Kind::ipv4);
    EXPECT_EQ(h.l3_offset, 14);
    EXPECT_EQ(h.l4_offset, 34);
    EXPECT_EQ(h.payload_offset, 42);
    EXPECT_EQ(h.l3_end, 14 + 20 + 8 + 3); // padding excluded
    EXPECT_EQ(h.ip_protocol, ip_protocol::udp);
    EXPECT_EQ(h.src_port, 1234);
    EXPECT_EQ(h.dst_port, 53);
    EXPECT_TRUE(h.has(parse_flag::has_l4));
    EXPECT_FALSE(h.has(parse_flag::vlan_tagged));
}

TEST(VswitchParser, TcpWithVlanTagAndIpv4Options) {
    Bytes tcp = with_checksum4(tcp_segment(80, 4000, 0x12, {}), 16, ip4(1, 1, 1, 1),
                               ip4(2, 2, 2, 2), ip_protocol::tcp);
    Bytes f = ethernet(mac(2), mac(1), ethertype::ipv4,
                       ipv4(ip4(1, 1, 1, 1), ip4(2, 2, 2, 2), ip_protocol::tcp, tcp, 64,
                            {0x94, 0x04, 0, 0}), // router alert option
                       {{42, 5}});
    ParsedHeaders h = parse_ok(f);
    EXPECT_EQ(h.tag_count, 1);
    EXPECT_EQ(tci_vlan_id(h.outer_tci), 42);
    EXPECT_EQ(tci_priority(h.outer_tci), 5);
    EXPECT_EQ(h.l3_offset, 18);
    EXPECT_TRUE(h.has(parse_flag::ipv4_options));
    EXPECT_EQ(h.l4_offset, 18 + 24);
    EXPECT_EQ(h.tcp_flags, 0x12);
    EXPECT_EQ(h.src_port, 80);
}

TEST(VswitchParser, QinQDoubleTag) {
    Bytes f = udp4_frame(mac(2), mac(1), ip4(1, 0, 0, 1), ip4(1, 0, 0, 2), 1, 2, {},
                         {{100, 0, ethertype::qinq}, {200}});
    ParsedHeaders h = parse_ok(f);
    EXPECT_EQ(h.tag_count, 2);
    EXPECT_EQ(h.outer_tpid, ethertype::qinq);
    EXPECT_EQ(tci_vlan_id(h.outer_tci), 100);
    EXPECT_EQ(tci_vlan_id(h.inner_tci), 200);
    EXPECT_EQ(h.l3_offset, 22);
    EXPECT_TRUE(h.has(parse_flag::double_tagged));
}

TEST(VswitchParser, ThreeTagsAreMalformed) {
    Bytes f = ethernet(mac(2), mac(1), ethertype::ipv4, Bytes(40, 0), {{1}, {2}, {3}});
    EXPECT_TRUE(parse_fails(f));
}

TEST(VswitchParser, Arp) {
    Bytes f = arp_frame(mac(1), arp_operation::request, mac(1), ip4(10, 0, 0, 1), ip4(10, 0, 0, 2));
    ParsedHeaders h = parse_ok(f);
    EXPECT_EQ(h.l3, L3Kind::arp);
    EXPECT_EQ(h.l3_end, 14 + 28);
    Bytes not_ethernet = f;
    not_ethernet[14 + 1] = 6; // hardware type 6 (IEEE 802)
    EXPECT_TRUE(parse_fails(not_ethernet));
}

TEST(VswitchParser, Ipv6ExtensionHeadersThenIcmpv6) {
    // Hop-by-hop (8 bytes) + destination options (16 bytes) + ICMPv6 echo.
    Bytes icmp = icmp_message(icmpv6_type::echo_request, 0, {0, 0, 0, 0});
    Bytes payload{ip_protocol::ipv6_destination_options, 0, 5, 2, 0, 0, 0, 0};
    Bytes dest{ip_protocol::icmpv6, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    put(payload, dest);
    put(payload, icmp);
    Bytes f = ethernet(mac(2), mac(1), ethertype::ipv6,
                       ipv6(ip6(1), ip6(2), ip_protocol::hop_by_hop, payload));
    ParsedHeaders h = parse_ok(f);
    EXPECT_EQ(h.l3, L3Kind::ipv6);
    EXPECT_TRUE(h.has(parse_flag::ipv6_extensions));
    EXPECT_EQ(h.ip_protocol, ip_protocol::icmpv6);
    EXPECT_EQ(h.l4_offset, 14 + 40 + 8 + 16);
    EXPECT_EQ(h.icmp_type, icmpv6_type::echo_request);
}

TEST(VswitchParser, Ipv6ExtensionChainIsBounded) {
    Bytes payload;
    for (uint32_t i = 0; i < kMaxIpv6ExtensionHeaders + 1; ++i)
        put(payload, Bytes{ip_protocol::ipv6_destination_options, 0, 0, 0, 0, 0, 0, 0});
    put(payload, Bytes(8, 0));
    Bytes f = ethernet(mac(2), mac(1), ethertype::ipv6,
                       ipv6(ip6(1), ip6(2), ip_protocol::ipv6_destination_options, payload));
    EXPECT_TRUE(parse_fails(f));
}

TEST(VswitchParser, FragmentsCarryNoL4Header) {
    Bytes later = ethernet(mac(2), mac(1), ethertype::ipv4,
                           ipv4(ip4(1, 0, 0, 1), ip4(1, 0, 0, 2), ip_protocol::udp, Bytes(16, 0xAB),
                                64, {}, 0x0010 /* offset 128 */));
    ParsedHeaders h = parse_ok(later);
    EXPECT_TRUE(h.has(parse_flag::fragment));
    EXPECT_FALSE(h.has(parse_flag::has_l4));
    Bytes first = ethernet(mac(2), mac(1), ethertype::ipv4,
                           ipv4(ip4(1, 0, 0, 1), ip4(1, 0, 0, 2), ip_protocol::udp,
                                udp_segment(67, 68, Bytes(8, 0)), 64, {}, 0x2000));
    h = parse_ok(first);
    EXPECT_TRUE(h.has(parse_flag::more_fragments));
    EXPECT_TRUE(h.has(parse_flag::has_l4));
    EXPECT_EQ(h.src_port, 67);
}

TEST(VswitchParser, GreWithKey) {
    Bytes inner = udp4_frame(mac(9), mac(8), ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 1, 2);
    Bytes f =
        nvgre_frame(mac(2), mac(1), ip4(192, 168, 0, 1), ip4(192, 168, 0, 2), 0x5001, 7, inner);
    ParsedHeaders h = parse_ok(f);
    EXPECT_EQ(h.ip_protocol, ip_protocol::gre);
    EXPECT_TRUE(h.has(parse_flag::gre));
    EXPECT_TRUE(h.has(parse_flag::gre_key));
    EXPECT_EQ(h.gre_protocol, ethertype::transparent_ethernet);
    EXPECT_EQ(h.gre_key, (0x5001u << 8) | 7);
    EXPECT_EQ(h.payload_offset, 14 + 20 + 8);
}

TEST(VswitchParser, InconsistentLengthsAreMalformed) {
    Bytes f = udp4_frame(mac(2), mac(1), ip4(1, 0, 0, 1), ip4(1, 0, 0, 2), 1, 2, Bytes(30, 1));
    Bytes bad_total = f;
    store_be16(bad_total.data() + 14 + 2, 2000);
    EXPECT_TRUE(parse_fails(bad_total));
    Bytes bad_ihl = f;
    bad_ihl[14] = 0x4F; // 60-byte header, longer than the datagram's total length
    EXPECT_TRUE(parse_fails(bad_ihl));
    Bytes bad_udp = f;
    store_be16(bad_udp.data() + 34 + 4, 500);
    EXPECT_TRUE(parse_fails(bad_udp));
    Bytes bad_version = f;
    bad_version[14] = 0x65;
    EXPECT_TRUE(parse_fails(bad_version));
    EXPECT_TRUE(parse_fails(Bytes(13, 0)));
}

TEST(VswitchParser, UnknownEthertypeIsNotAnError) {
    Bytes f = ethernet(mac(2), mac(1), 0x88CC, Bytes(30, 0)); // LLDP
    ParsedHeaders h = parse_ok(f);
    EXPECT_EQ(h.l3, L3Kind::other);
    EXPECT_EQ(h.ethertype, 0x88CC);
}

// Every prefix of every kind of valid frame, and every single-byte corruption of the headers,
// either parses or is rejected, and never reads outside the frame (ASan checks the reads).
TEST(VswitchParser, TruncationAndCorruptionNeverOverread) {
    Bytes icmp_body;
    put(icmp_body, Bytes(20, 0x11));
    std::vector<Bytes> frames = {
        udp4_frame(mac(2), mac(1), ip4(1, 0, 0, 1), ip4(1, 0, 0, 2), 1, 2, {1, 2, 3}, {{7}}),
        tcp4_frame(mac(2), mac(1), ip4(1, 0, 0, 1), ip4(1, 0, 0, 2), 1, 2),
        icmp4_frame(mac(2), mac(1), ip4(1, 0, 0, 1), ip4(1, 0, 0, 2), 8),
        udp6_frame(mac(2), mac(1), ip6(1), ip6(2), 546, 547, {1}),
        neighbor_advertisement(mac(1), ip6(1), ip6(1), mac(1)),
        arp_frame(mac(1), 1, mac(1), ip4(1, 0, 0, 1), ip4(1, 0, 0, 2)),
        nvgre_frame(mac(2), mac(1), ip4(1, 0, 0, 1), ip4(1, 0, 0, 2), 0x1234, 1,
                    udp4_frame(mac(4), mac(3), ip4(2, 0, 0, 1), ip4(2, 0, 0, 2), 5, 6)),
    };
    size_t rejected = 0;
    for (const Bytes& frame : frames) {
        for (size_t length = 0; length <= frame.size(); ++length)
            rejected += parse_fails(Bytes(frame.begin(), frame.begin() + length)) ? 1 : 0;
        for (size_t i = 12; i < std::min<size_t>(frame.size(), 80); ++i) {
            for (uint8_t value : {uint8_t{0x00}, uint8_t{0xFF}, uint8_t{0x81}, uint8_t{0x45}}) {
                Bytes corrupt = frame;
                corrupt[i] = value;
                rejected += parse_fails(corrupt) ? 1 : 0;
            }
        }
    }
    EXPECT_GT(rejected, 0u); // truncations of recognised headers must be rejected
}

TEST(VswitchParser, FrameVersionClearsParsedFlagOnError) {
    TestPool pool;
    Frame* frame = pool.make(Bytes(20, 0));
    store_be16(frame->data() + 12, ethertype::ipv4);
    EXPECT_TRUE(parse_headers(*frame).is_error());
    EXPECT_FALSE(frame->headers.has(parse_flag::parsed));
    pool.pool().release(frame);
}

} // namespace
} // namespace halcyon::vswitch
