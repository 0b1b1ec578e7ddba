// A hostile guest: malformed and out-of-state messages, bad GPADLs and rings, corrupted ring
// indices, oversized and inconsistent packets, wrong relids. Each is refused with a log line,
// costs the guest at most the channel it abused, and the host keeps serving the other channel.
#include "tests/unit/vmbus_linux_guest.hpp"

#include <memory>

namespace vmbus_test {
namespace {

struct VmbusHostile : ::testing::Test {
    FakeGuestMemory mem{256 << 20};
    FakeSynic synic;
    RecordingLog log;
    std::unique_ptr<VmbusHost> host;
    EchoDevice victim{0x10};
    EchoDevice bystander{0x20};
    std::unique_ptr<LinuxGuest> guest;
    std::vector<Offer> offers;
    LinuxChannel good;

    void SetUp() override {
        mem.strict = true;
        host = std::make_unique<VmbusHost>(mem, synic, log, VmbusHostConfig{2});
        ASSERT_FALSE(host->add_device(victim).is_error());
        ASSERT_FALSE(host->add_device(bystander).is_error());
        guest = std::make_unique<LinuxGuest>(*host, mem, synic);
        offers = guest->boot();
        ASSERT_EQ(offers.size(), 2u);
        good = guest->open(offers[1], 2, 2);
        ASSERT_EQ(good.status, 0u);
    }

    // The other channel still works: a request comes back as its completion.
    void expect_host_still_serves() {
        size_t before = bystander.packets.size();
        std::vector<uint8_t> request(64, 0x5A);
        ASSERT_EQ(good.send_inband(0xBEEF, request, true), 0);
        ASSERT_EQ(bystander.packets.size(), before + 1);
        std::vector<Packet> packets = good.receive_all();
        ASSERT_EQ(packets.size(), 1u);
        EXPECT_EQ(packets[0].trans_id, 0xBEEFu);
        EXPECT_TRUE(bystander.closes.empty());
    }
    void post_raw(std::vector<uint8_t> bytes, uint32_t connection = 0) {
        EXPECT_EQ(guest->post_bytes(bytes, connection), hv::PortStatus::success);
    }
    template <typename T>
    std::vector<uint8_t> raw(const T& message) {
        std::vector<uint8_t> bytes(sizeof(T));
        std::memcpy(bytes.data(), &message, sizeof(T));
        return bytes;
    }
    void drop_answers() { synic.messages.clear(); }
};

TEST_F(VmbusHostile, UnknownAndHostOnlyMessageTypesAreRefused) {
    for (uint32_t type :
         {0u, 1u, 2u, 4u, 6u, 10u, 12u, 15u, 17u, 18u, 21u, 23u, 24u, 25u, 99u, 0xFFFFFFFFu}) {
        linux_abi::relid_only message{{type, 0}, offers[0].relid};
        post_raw(raw(message));
    }
    EXPECT_FALSE(guest->has_message());
    EXPECT_GE(host->stats().refusals, 16u);
    EXPECT_TRUE(log.contains("refused"));
    expect_host_still_serves();
}

TEST_F(VmbusHostile, TruncatedMessagesAreRefused) {
    struct Case {
        uint32_t type;
        size_t size;
    };
    for (Case c : {Case{linux_abi::INITIATE_CONTACT, 40}, Case{linux_abi::GPADL_HEADER, 20},
                   Case{linux_abi::GPADL_BODY, 16}, Case{linux_abi::GPADL_TEARDOWN, 16},
                   Case{linux_abi::OPENCHANNEL, 148}, Case{linux_abi::CLOSECHANNEL, 12},
                   Case{linux_abi::RELID_RELEASED, 12}, Case{linux_abi::MODIFYCHANNEL, 16}}) {
        std::vector<uint8_t> bytes(c.size - 1, 0);
        std::memcpy(bytes.data(), &c.type, 4);
        uint32_t relid = offers[1].relid;
        if (bytes.size() >= 12)
            std::memcpy(bytes.data() + 8, &relid, 4);
        post_raw(bytes);
    }
    post_raw({1, 2, 3}); // not even a header
    post_raw({});
    EXPECT_FALSE(guest->has_message());
    EXPECT_GE(host->stats().refusals, 10u);
    EXPECT_TRUE(host->connected()) << "a truncated INITIATE_CONTACT changes nothing";
    expect_host_still_serves();
}

TEST_F(VmbusHostile, OnlyInitiateContactIsTakenOnConnectionFour) {
    linux_abi::message_header request{linux_abi::REQUESTOFFERS, 0};
    post_raw(raw(request), 4);
    linux_abi::relid_only close{{linux_abi::CLOSECHANNEL, 0}, offers[1].relid};
    post_raw(raw(close), 4);
    EXPECT_FALSE(guest->has_message());
    EXPECT_EQ(log.count("on connection 4"), 2u);
    expect_host_still_serves();
}

TEST_F(VmbusHostile, RepeatedOfferRequestsAreRefused) {
    linux_abi::message_header request{linux_abi::REQUESTOFFERS, 0};
    post_raw(raw(request));
    EXPECT_FALSE(guest->has_message());
    EXPECT_TRUE(log.contains("already sent"));
}

TEST_F(VmbusHostile, WrongRelidsAreRefused) {
    for (uint32_t relid : {0u, 63u, 64u, 65u, 0xFFFFFFFFu}) {
        linux_abi::relid_only close{{linux_abi::CLOSECHANNEL, 0}, relid};
        post_raw(raw(close));
        linux_abi::relid_only release{{linux_abi::RELID_RELEASED, 0}, relid};
        post_raw(raw(release));
        linux_abi::open_channel open{};
        open.header.msgtype = linux_abi::OPENCHANNEL;
        open.child_relid = relid;
        open.openid = relid;
        post_raw(raw(open));
        auto result = guest->expect<linux_abi::open_result>(linux_abi::OPENCHANNEL_RESULT);
        EXPECT_NE(result.status, 0u);
    }
    // Releasing a relid that was never rescinded, closing one that is not open.
    linux_abi::relid_only release{{linux_abi::RELID_RELEASED, 0}, offers[1].relid};
    post_raw(raw(release));
    linux_abi::relid_only close{{linux_abi::CLOSECHANNEL, 0}, offers[0].relid};
    post_raw(raw(close));
    // Events on connection ids of channels that do not exist.
    EXPECT_EQ(host->port_for(0x2000 + 60)->on_event(0, 0), hv::PortStatus::invalid_connection_id);
    EXPECT_EQ(host->port_for(0x2000 + offers[0].relid)->on_event(0, 0), hv::PortStatus::success)
        << "offered but not open: nothing to do";
    // Messages to an event connection, events to a message connection.
    uint8_t junk[8] = {};
    EXPECT_EQ(host->port_for(good.offer.connection_id)->on_message(0, 1, junk),
              hv::PortStatus::invalid_connection_id);
    EXPECT_EQ(host->port_for(1)->on_event(0, 0), hv::PortStatus::invalid_connection_id);
    EXPECT_FALSE(guest->has_message());
    expect_host_still_serves();
}

TEST_F(VmbusHostile, BadRingGpadlsAreRefusedAtOpen) {
    auto open_with = [&](uint32_t gpadl, uint32_t split, uint32_t vp = 0) {
        linux_abi::open_channel open{};
        open.header.msgtype = linux_abi::OPENCHANNEL;
        open.child_relid = offers[0].relid;
        open.openid = 5;
        open.ringbuffer_gpadlhandle = gpadl;
        open.downstream_ringbuffer_pageoffset = split;
        open.target_vp = vp;
        post_raw(raw(open));
        return guest->expect<linux_abi::open_result>(linux_abi::OPENCHANNEL_RESULT).status;
    };
    uint32_t ring = 0;
    ASSERT_EQ(guest->establish_gpadl(offers[0].relid, guest->contiguous(4), ring), 0u);
    EXPECT_NE(open_with(0x4242, 2), 0u);     // no such GPADL
    EXPECT_NE(open_with(good.gpadl, 2), 0u); // another channel's GPADL (and in use)
    EXPECT_NE(open_with(ring, 0), 0u);       // no guest->host ring
    EXPECT_NE(open_with(ring, 1), 0u);       // a ring without data pages
    EXPECT_NE(open_with(ring, 3), 0u);
    EXPECT_NE(open_with(ring, 9), 0u);    // past the end
    EXPECT_NE(open_with(ring, 2, 7), 0u); // no such vCPU
    // A page named twice.
    uint32_t aliased = 0;
    uint64_t page = guest->alloc_pages(1);
    ASSERT_EQ(guest->establish_gpadl(offers[0].relid, {page, page + 1, page, page + 2}, aliased),
              0u);
    EXPECT_NE(open_with(aliased, 2), 0u);
    // Not page aligned: one range of 3.5 pages.
    std::vector<uint8_t> msg(sizeof(linux_abi::gpadl_header) + 5 * 8);
    linux_abi::gpadl_header header{{linux_abi::GPADL_HEADER, 0}, offers[0].relid, 0x777, 40, 1};
    uint64_t entries[5] = {uint64_t{3 * 4096 + 2048}, 0x3000, 0x3001, 0x3002, 0x3003};
    std::memcpy(msg.data(), &header, sizeof(header));
    std::memcpy(msg.data() + sizeof(header), entries, sizeof(entries));
    post_raw(msg);
    EXPECT_EQ(guest->expect<linux_abi::gpadl_created>(linux_abi::GPADL_CREATED).creation_status,
              0u);
    EXPECT_NE(open_with(0x777, 2), 0u);
    EXPECT_TRUE(victim.opens.empty());
    EXPECT_GE(log.count("OPEN_CHANNEL of relid"), 8u);
    // The right GPADL still opens.
    EXPECT_EQ(open_with(ring, 2), 0u);
    expect_host_still_serves();
}

TEST_F(VmbusHostile, TearingDownALiveRingClosesOnlyThatChannel) {
    LinuxChannel victim_channel = guest->open(offers[0], 2, 2);
    ASSERT_EQ(victim_channel.status, 0u);
    EXPECT_EQ(guest->teardown_gpadl(offers[0].relid, victim_channel.gpadl), victim_channel.gpadl);
    EXPECT_EQ(victim.closes, std::vector<uint16_t>{0});
    EXPECT_TRUE(log.contains("torn down while"));
    expect_host_still_serves();
}

struct VmbusCorruptRing : VmbusHostile {
    LinuxChannel bad;
    void SetUp() override {
        VmbusHostile::SetUp();
        bad = guest->open(offers[0], 2, 2);
        ASSERT_EQ(bad.status, 0u);
        std::vector<uint8_t> fine(32, 1);
        ASSERT_EQ(bad.send_inband(1, fine, true), 0);
        bad.receive_all();
        ASSERT_EQ(victim.packets.size(), 1u);
    }
    void signal() {
        EXPECT_EQ(host->port_for(bad.offer.connection_id)->on_event(0, 0), hv::PortStatus::success);
    }
    void expect_faulted(const char* why) {
        EXPECT_EQ(victim.closes, std::vector<uint16_t>{0});
        EXPECT_TRUE(log.contains(why)) << why;
        EXPECT_EQ(host->stats().channels_faulted, 1u);
        // Further signals are ignored; the guest can still close and tear down the channel.
        size_t packets = victim.packets.size();
        signal();
        EXPECT_EQ(victim.packets.size(), packets);
        guest->close(bad);
        EXPECT_EQ(victim.closes.size(), 1u);
        expect_host_still_serves();
    }
};

TEST_F(VmbusCorruptRing, WriteIndexOutsideTheRing) {
    bad.outbound.set(0, 4096);
    signal();
    expect_faulted("write_index outside the ring");
}

TEST_F(VmbusCorruptRing, UnalignedWriteIndex) {
    bad.outbound.set(0, bad.outbound.get(0) + 4);
    signal();
    expect_faulted("write_index outside the ring");
}

TEST_F(VmbusCorruptRing, ReadIndexOfTheHostToGuestRingOutsideTheRing) {
    bad.inbound.set(4, 0xFFFF0000);
    ASSERT_EQ(bad.send_inband(2, std::vector<uint8_t>(16, 2), true), 0);
    expect_faulted("read_index outside the ring");
}

TEST_F(VmbusCorruptRing, OversizedPacket) {
    // A descriptor claiming more bytes than the ring holds.
    uint32_t at = bad.outbound.get(0);
    linux_abi::vmpacket_descriptor desc{6, 2, 0xFFFF, 0, 1};
    bad.outbound.copy_to(at, reinterpret_cast<uint8_t*>(&desc), sizeof(desc));
    bad.outbound.set(0, (at + 64) % bad.outbound.data_size());
    signal();
    expect_faulted("packet longer than the data in the ring");
}

TEST_F(VmbusCorruptRing, PacketLargerThanTheHostAccepts) {
    host = nullptr; // rebuild with a big ring: the packet fits the ring but not the host
    synic.messages.clear();
    host = std::make_unique<VmbusHost>(mem, synic, log, VmbusHostConfig{2});
    victim = EchoDevice(0x10);
    ASSERT_FALSE(host->add_device(victim).is_error());
    guest = std::make_unique<LinuxGuest>(*host, mem, synic);
    offers = guest->boot();
    bad = guest->open(offers[0], 8, 2);
    ASSERT_EQ(bad.status, 0u);
    ASSERT_EQ(bad.send_inband(1, std::vector<uint8_t>(kMaxPacketBytes, 3), false), 0);
    EXPECT_EQ(victim.closes, std::vector<uint16_t>{0});
    EXPECT_TRUE(log.contains("packet larger than the host accepts"));
}

TEST_F(VmbusCorruptRing, DescriptorOffsetBeyondItsLength) {
    uint32_t at = bad.outbound.get(0);
    linux_abi::vmpacket_descriptor desc{6, 5, 3, 0, 1};
    bad.outbound.copy_to(at, reinterpret_cast<uint8_t*>(&desc), sizeof(desc));
    bad.outbound.set(0, (at + 32) % bad.outbound.data_size());
    signal();
    expect_faulted("offset outside the packet");
}

TEST_F(VmbusCorruptRing, PartialPacket) {
    bad.outbound.set(0, (bad.outbound.get(0) + 8) % bad.outbound.data_size());
    signal();
    expect_faulted("partial packet");
}

TEST_F(VmbusCorruptRing, UnknownPacketTypesAndFlags) {
    ASSERT_EQ(bad.write(7, 0, 1, {}, std::vector<uint8_t>(16, 0)), 0);
    expect_faulted("transfer-page packet from the guest");
}

TEST_F(VmbusCorruptRing, UnknownFlags) {
    ASSERT_EQ(bad.write(6, 0x80, 1, {}, std::vector<uint8_t>(16, 0)), 0);
    expect_faulted("unknown flags");
}

TEST_F(VmbusCorruptRing, GpaDirectWithHugeRangeCount) {
    std::vector<uint8_t> extra(16, 0);
    uint32_t count = 0x10000;
    std::memcpy(extra.data() + 4, &count, 4);
    ASSERT_EQ(bad.write(9, 1, 1, extra, std::vector<uint8_t>(8, 0)), 0);
    expect_faulted("range count");
}

TEST_F(VmbusCorruptRing, GpaDirectRangeLongerThanItsPages) {
    ASSERT_EQ(bad.send_gpa_direct(1, 5 * 4096, 0, {0x3000, 0x3001}, std::vector<uint8_t>(8, 0)), 0);
    expect_faulted("more bytes than pages");
}

TEST_F(VmbusCorruptRing, VspProtocolErrorsCloseTheChannel) {
    victim.fail_packets = true;
    ASSERT_EQ(bad.send_inband(2, std::vector<uint8_t>(16, 2), true), 0);
    expect_faulted("VSP protocol violation");
}

TEST_F(VmbusCorruptRing, ChannelsOfAnotherDeviceKeepWorkingAfterAFault) {
    bad.outbound.set(0, 12345);
    signal();
    expect_faulted("outside the ring");
    // And the faulted channel can be opened again on a fresh ring.
    LinuxChannel again = guest->open(offers[0], 2, 2);
    EXPECT_EQ(again.status, 0u);
    ASSERT_EQ(again.send_inband(3, std::vector<uint8_t>(16, 3), true), 0);
    EXPECT_EQ(again.receive_all().size(), 1u);
}

TEST_F(VmbusHostile, FloodsOfRefusalsAreRateLimited) {
    for (int i = 0; i < 5000; ++i) {
        linux_abi::relid_only message{{99, 0}, 0};
        post_raw(raw(message));
    }
    EXPECT_GE(host->stats().refusals, 5000u);
    EXPECT_LT(log.lines.size(), 200u);
    EXPECT_TRUE(log.contains("suppressed"));
    expect_host_still_serves();
}

// Reconnecting and unloading are allowed, but a guest doing nothing else must not flood the
// host's console either: those lines have a rate limit of their own (refusals stay visible).
TEST_F(VmbusHostile, ReconnectAndUnloadLoopsAreRateLimited) {
    const size_t before = log.lines.size();
    for (int i = 0; i < 2000; ++i) {
        ASSERT_TRUE(guest->negotiate(linux_abi::version(5, 3)).has_value());
        if (i % 2 == 0) {
            linux_abi::message_header unload{linux_abi::UNLOAD, 0};
            post_raw(raw(unload));
            drop_answers();
        }
    }
    const size_t lines = log.lines.size() - before;
    EXPECT_GE(lines, 64u);
    EXPECT_LT(lines, 100u);
    EXPECT_TRUE(log.contains("suppressed"));
    // The refusal budget is untouched: the next refusal is logged.
    linux_abi::relid_only unknown{{99, 0}, 0};
    post_raw(raw(unknown));
    EXPECT_TRUE(log.lines.back().find("message type 99 refused") != std::string::npos);
}

} // namespace
} // namespace vmbus_test
