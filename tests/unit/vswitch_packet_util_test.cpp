// Checksums, VLAN tag insertion/removal, frame headroom and the fixed frame pool.
#include "tests/unit/vswitch_test_packets.hpp"

#include <gtest/gtest.h>

namespace halcyon::vswitch {
namespace {

using namespace test;

TEST(VswitchChecksum, Rfc1071Example) {
    // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (before complement).
    Bytes data{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    EXPECT_EQ(checksum_finish(checksum_add(data)), static_cast<uint16_t>(~0xddf2));
}

TEST(VswitchChecksum, OddLengthPadsWithZero) {
    EXPECT_EQ(checksum_add(Bytes{0x12, 0x34, 0x56}), 0x1234u + 0x5600u);
}

TEST(VswitchChecksum, Ipv4HeaderChecksumVerifies) {
    Bytes packet = ipv4(ip4(192, 168, 1, 1), ip4(10, 1, 2, 3), ip_protocol::udp, {});
    EXPECT_TRUE(ipv4_header_checksum_valid(packet));
    packet[8] = 1; // TTL change invalidates it
    EXPECT_FALSE(ipv4_header_checksum_valid(packet));
}

TEST(VswitchChecksum, IncrementalUpdateMatchesRecompute) {
    Bytes packet = ipv4(ip4(192, 168, 1, 1), ip4(10, 1, 2, 3), ip_protocol::udp, {}, 64);
    for (uint8_t ttl = 63; ttl > 0; --ttl) {
        uint16_t old_word = load_be16(packet.data() + 8);
        packet[8] = ttl;
        uint16_t updated = checksum_update16(load_be16(packet.data() + 10), old_word,
                                             load_be16(packet.data() + 8));
        store_be16(packet.data() + 10, updated);
        ASSERT_TRUE(ipv4_header_checksum_valid(packet)) << int(ttl);
    }
    // A 32-bit address rewrite (NAT-like) as well.
    uint32_t old_address = load_be32(packet.data() + 12);
    store_be32(packet.data() + 12, 0xC0A80A0A);
    store_be16(packet.data() + 10,
               checksum_update32(load_be16(packet.data() + 10), old_address, 0xC0A80A0A));
    EXPECT_TRUE(ipv4_header_checksum_valid(packet));
}

TEST(VswitchChecksum, UdpPseudoHeaderVerifies) {
    Bytes f = udp4_frame(mac(2), mac(1), ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 1000, 2000, {9, 8, 7});
    std::span<const uint8_t> segment(f.data() + 34, 8 + 3);
    EXPECT_TRUE(checksum_verifies(
        segment, pseudo_header_ipv4(ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), ip_protocol::udp, 11)));
    Bytes f6 = udp6_frame(mac(2), mac(1), ip6(1), ip6(2), 546, 547, {1, 2, 3, 4, 5});
    std::span<const uint8_t> segment6(f6.data() + 54, 13);
    EXPECT_TRUE(
        checksum_verifies(segment6, pseudo_header_ipv6(ip6(1), ip6(2), ip_protocol::udp, 13)));
    EXPECT_FALSE(
        checksum_verifies(segment6, pseudo_header_ipv6(ip6(1), ip6(3), ip_protocol::udp, 13)));
}

TEST(VswitchVlanTag, InsertThenStripRestoresFrameAndOffsets) {
    TestPool pool;
    Bytes original = udp4_frame(mac(2), mac(1), ip4(1, 0, 0, 1), ip4(1, 0, 0, 2), 5, 6, {1, 2});
    Frame* frame = pool.make(original);
    ASSERT_FALSE(parse_headers(*frame).is_error());
    ASSERT_TRUE(insert_vlan_tag(*frame, vlan_tci(300, 3)));
    EXPECT_EQ(frame->length, original.size() + 4);
    EXPECT_EQ(load_be16(frame->data() + 12), ethertype::vlan);
    EXPECT_EQ(load_be16(frame->data() + 14), vlan_tci(300, 3));
    EXPECT_EQ(frame->headers.l3_offset, 18);
    EXPECT_EQ(frame->headers.l4_offset, 38);
    ParsedHeaders reparsed;
    ASSERT_FALSE(parse_headers(frame->bytes(), reparsed).is_error());
    EXPECT_EQ(reparsed.l4_offset, frame->headers.l4_offset);
    EXPECT_EQ(reparsed.outer_tci, frame->headers.outer_tci);
    ASSERT_TRUE(strip_outer_vlan_tag(*frame));
    EXPECT_EQ(Bytes(frame->data(), frame->data() + frame->length), original);
    EXPECT_EQ(frame->headers.l4_offset, 34);
    EXPECT_FALSE(strip_outer_vlan_tag(*frame)); // untagged now
    pool.pool().release(frame);
}

TEST(VswitchVlanTag, InsertFailsWithoutHeadroom) {
    TestPool pool(4, 256, 0);
    Frame* frame = pool.make(Bytes(60, 0));
    EXPECT_FALSE(insert_vlan_tag(*frame, 5));
    EXPECT_EQ(frame->length, 60u);
    pool.pool().release(frame);
}

TEST(VswitchFramePool, AllocatesUpToCapacityAndReuses) {
    std::vector<Frame> frames(4);
    std::vector<uint8_t> buffers(3 * 256); // storage for only three
    FixedFramePool pool(frames, buffers, 256, 64);
    EXPECT_EQ(pool.size(), 3u);
    Frame* a = pool.allocate();
    Frame* b = pool.allocate();
    Frame* c = pool.allocate();
    ASSERT_NE(a, nullptr);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(pool.allocate(), nullptr);
    EXPECT_EQ(a->headroom(), 64u);
    EXPECT_EQ(a->tailroom(), 256u - 64u);
    // Distinct, non-overlapping buffers.
    EXPECT_NE(a->buffer, b->buffer);
    EXPECT_GE(static_cast<size_t>(std::abs(b->buffer - a->buffer)), 256u);
    pool.release(b);
    EXPECT_EQ(pool.available(), 1u);
    Frame* again = pool.allocate();
    EXPECT_EQ(again, b);
    EXPECT_EQ(again->length, 0u);
    EXPECT_TRUE(again->push_front(64));
    EXPECT_FALSE(again->push_front(1));
    EXPECT_TRUE(again->pull_front(64));
    EXPECT_FALSE(again->pull_front(1));
    pool.release(a);
    pool.release(again);
    pool.release(c);
    EXPECT_EQ(pool.available(), 3u);
}

TEST(VswitchFramePool, CloneCopiesBytesAndMetadata) {
    TestPool pool;
    Frame* frame = pool.make(Bytes{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14});
    frame->vlan_id = 12;
    frame->vsid = 0x5001;
    frame->ingress_port = 3;
    Frame* copy = clone_frame(pool.pool(), *frame);
    ASSERT_NE(copy, nullptr);
    EXPECT_NE(copy->data(), frame->data());
    EXPECT_EQ(Bytes(copy->data(), copy->data() + copy->length),
              Bytes(frame->data(), frame->data() + frame->length));
    EXPECT_EQ(copy->vlan_id, 12);
    EXPECT_EQ(copy->vsid, 0x5001u);
    EXPECT_EQ(copy->ingress_port, 3);
    pool.pool().release(copy);
    pool.pool().release(frame);
}

TEST(VswitchDropReason, EveryReasonHasADistinctName) {
    for (size_t i = 0; i < kDropReasonCount; ++i) {
        const char* name = drop_reason_name(static_cast<DropReason>(i));
        EXPECT_STRNE(name, "unknown");
        for (size_t j = 0; j < i; ++j)
            EXPECT_STRNE(name, drop_reason_name(static_cast<DropReason>(j)));
    }
}

} // namespace
} // namespace halcyon::vswitch
