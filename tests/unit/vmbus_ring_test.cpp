// Open channels and their rings against Linux's ring algorithms: packets both ways, GPA-direct
// ranges, wraparound, the interrupt mask on both rings and pending_send_sz in both directions.
#include "tests/unit/vmbus_linux_guest.hpp"

#include <memory>
#include <numeric>

namespace vmbus_test {
namespace {

struct VmbusRings : ::testing::Test {
    FakeGuestMemory mem{256 << 20};
    FakeSynic synic;
    RecordingLog log;
    std::unique_ptr<VmbusHost> host;
    EchoDevice disk{0x10};
    std::unique_ptr<LinuxGuest> guest;
    Offer offer;

    void SetUp() override {
        host = std::make_unique<VmbusHost>(mem, synic, log, VmbusHostConfig{2});
        ASSERT_FALSE(host->add_device(disk).is_error());
        guest = std::make_unique<LinuxGuest>(*host, mem, synic);
        std::vector<Offer> offers = guest->boot();
        ASSERT_EQ(offers.size(), 1u);
        offer = offers[0];
    }
    LinuxChannel open(uint32_t send_pages, uint32_t recv_pages, uint32_t vp = 0) {
        LinuxChannel channel = guest->open(offer, send_pages, recv_pages, vp);
        EXPECT_EQ(channel.status, 0u);
        return channel;
    }
    static std::vector<uint8_t> bytes(size_t size, uint8_t seed) {
        std::vector<uint8_t> out(size);
        for (size_t i = 0; i < size; ++i)
            out[i] = static_cast<uint8_t>(seed + i * 31);
        return out;
    }
};

TEST_F(VmbusRings, OpenSetsTheHostsFieldsOfBothRings) {
    LinuxChannel channel = open(4, 4);
    EXPECT_EQ(disk.opens, std::vector<uint16_t>{0});
    EXPECT_EQ(channel.inbound.get(64) & 1, 1u) << "host->guest: the host sets pending_send_sz";
    EXPECT_EQ(channel.inbound.get(12), 0u);
    EXPECT_EQ(channel.outbound.get(8), 0u) << "guest->host: host wants interrupts";
}

TEST_F(VmbusRings, ARequestIsEchoedAsACompletion) {
    LinuxChannel channel = open(4, 4, 1);
    std::vector<uint8_t> request = bytes(100, 7);
    ASSERT_EQ(channel.send_inband(0x55AA, request, true), 0);
    EXPECT_EQ(channel.signals_to_host, 1u);
    ASSERT_EQ(disk.packets.size(), 1u);
    EXPECT_EQ(disk.packets[0].type, PacketType::data_inband);
    EXPECT_EQ(disk.packets[0].transaction_id, 0x55AAu);
    EXPECT_TRUE(disk.packets[0].completion_requested);
    ASSERT_EQ(disk.packets[0].payload.size(), 104u) << "Linux pads the packet to 8 bytes";
    EXPECT_TRUE(std::equal(request.begin(), request.end(), disk.packets[0].payload.begin()));

    ASSERT_EQ(synic.events.size(), 1u);
    EXPECT_EQ(synic.events[0].vcpu, 1u) << "the open's target VP";
    EXPECT_EQ(synic.events[0].sint, 2);
    EXPECT_EQ(synic.events[0].flag, offer.relid);
    std::vector<Packet> packets = channel.receive_all();
    ASSERT_EQ(packets.size(), 1u);
    EXPECT_EQ(packets[0].type, 11);
    EXPECT_EQ(packets[0].flags, 0);
    EXPECT_EQ(packets[0].trans_id, 0x55AAu);
    EXPECT_TRUE(std::equal(request.begin(), request.end(), packets[0].payload.begin()));

    guest->close(channel);
    EXPECT_EQ(disk.closes, std::vector<uint16_t>{0});
    EXPECT_EQ(host->gpadls().count(), 0u);
}

TEST_F(VmbusRings, TheHostTouchesOnlyTheRingPages) {
    LinuxChannel channel = open(3, 5);
    mem.touched.clear();
    for (int i = 0; i < 50; ++i)
        ASSERT_EQ(channel.send_inband(i, bytes(300, static_cast<uint8_t>(i)), true), 0);
    channel.receive_all();
    std::set<uint64_t> ring(channel.outbound.pfns.begin(), channel.outbound.pfns.end());
    ring.insert(channel.inbound.pfns.begin(), channel.inbound.pfns.end());
    for (uint64_t page : mem.touched)
        EXPECT_TRUE(ring.count(page)) << std::hex << page;
}

TEST_F(VmbusRings, GpaDirectRangesReachTheVsp) {
    LinuxChannel channel = open(4, 4);
    std::vector<uint64_t> pfns = {0x4000, 0x4100, 0x4002};
    std::vector<uint8_t> srb = bytes(52, 3);
    ASSERT_EQ(channel.send_gpa_direct(9, 8192, 0x200, pfns, srb), 0);
    ASSERT_EQ(disk.packets.size(), 1u);
    const EchoDevice::Seen& seen = disk.packets[0];
    EXPECT_EQ(seen.type, PacketType::data_using_gpa_direct);
    ASSERT_EQ(seen.range_pages.size(), 1u);
    EXPECT_EQ(seen.range_pages[0], pfns);
    EXPECT_EQ(seen.range_bytes[0], (std::pair<uint32_t, uint32_t>{8192, 0x200}));
    EXPECT_EQ(seen.payload.size(), 56u);
    EXPECT_TRUE(std::equal(srb.begin(), srb.end(), seen.payload.begin()));
}

TEST_F(VmbusRings, PacketsWrapAroundTheRingsIntact) {
    LinuxChannel channel = open(2, 2); // 4 KiB of data each way
    uint64_t received = 0;
    for (uint32_t i = 0; i < 400; ++i) {
        std::vector<uint8_t> request = bytes(1 + (i * 37) % 700, static_cast<uint8_t>(i));
        ASSERT_EQ(channel.send_inband(1000 + i, request, true), 0) << i;
        std::vector<Packet> packets = channel.receive_all();
        ASSERT_EQ(packets.size(), 1u) << i;
        EXPECT_EQ(packets[0].trans_id, 1000u + i);
        ASSERT_GE(packets[0].payload.size(), request.size());
        EXPECT_TRUE(std::equal(request.begin(), request.end(), packets[0].payload.begin())) << i;
        received += packets[0].payload.size();
    }
    EXPECT_GT(received, 20u * 4096) << "both rings wrapped many times";
    EXPECT_EQ(host->stats().channels_faulted, 0u);
}

TEST_F(VmbusRings, TheGuestsInterruptMaskSuppressesSignals) {
    LinuxChannel channel = open(4, 4);
    channel.begin_read(); // hv_begin_read(): the guest is draining
    ASSERT_EQ(channel.send_inband(1, bytes(40, 1), true), 0);
    EXPECT_TRUE(synic.events.empty());
    EXPECT_GT(channel.end_read(), 0u) << "the guest finds the completion when it unmasks";
    EXPECT_EQ(channel.receive_all().size(), 1u);

    // Unmasked: only the empty -> non-empty transition interrupts.
    ASSERT_EQ(channel.send_inband(2, bytes(40, 2), true), 0);
    ASSERT_EQ(channel.send_inband(3, bytes(40, 3), true), 0);
    EXPECT_EQ(synic.events_for(offer.relid), 1u);
    EXPECT_EQ(channel.receive_all().size(), 2u);
    ASSERT_EQ(channel.send_inband(4, bytes(40, 4), true), 0);
    EXPECT_EQ(synic.events_for(offer.relid), 2u);
}

TEST_F(VmbusRings, TheHostMasksWhileDrainingAndCatchesWritesMadeMeanwhile) {
    LinuxChannel channel = open(4, 4);
    int nested = 0;
    disk.during_packet = [&] {
        EXPECT_EQ(channel.outbound.get(8), 1u) << "masked while the host drains";
        if (nested++ == 0) {
            // Another guest vCPU writes now: hv_signal_on_write() sees the mask and stays quiet.
            uint32_t before = channel.signals_to_host;
            ASSERT_EQ(channel.send_inband(2, bytes(24, 9), true), 0);
            EXPECT_EQ(channel.signals_to_host, before);
        }
    };
    ASSERT_EQ(channel.send_inband(1, bytes(24, 8), true), 0);
    EXPECT_EQ(disk.packets.size(), 2u) << "the packet written during the drain was taken";
    EXPECT_EQ(channel.outbound.get(8), 0u) << "unmasked once empty";
    EXPECT_EQ(channel.outbound.get(4), channel.outbound.get(0)) << "everything consumed";
}

TEST_F(VmbusRings, AFullGuestRingPausesTheHostUntilTheGuestReads) {
    LinuxChannel channel = open(8, 2); // completions have 4 KiB
    for (uint32_t i = 0; i < 6; ++i)
        ASSERT_EQ(channel.send_inband(i, bytes(1000, static_cast<uint8_t>(i)), true), 0);
    // 1024-byte completions: three fit (the ring must keep a gap), the rest wait.
    EXPECT_EQ(disk.packets.size(), 3u);
    EXPECT_EQ(channel.inbound.get(12), 1024u) << "pending_send_sz asks for one completion";
    std::vector<Packet> first = channel.receive_all(); // hv_pkt_iter_close signals the host
    EXPECT_EQ(first.size(), 3u);
    EXPECT_EQ(disk.packets.size(), 6u);
    std::vector<Packet> rest = channel.receive_all();
    ASSERT_EQ(rest.size(), 3u);
    for (uint32_t i = 0; i < 3; ++i)
        EXPECT_EQ(rest[i].trans_id, 3u + i);
    EXPECT_EQ(channel.inbound.get(12), 0u) << "nothing pending any more";
    EXPECT_EQ(channel.outbound.get(4), channel.outbound.get(0));
}

TEST_F(VmbusRings, ReplyReserveHoldsRequestsBeforeTheVspSeesThem) {
    VmbusHostConfig config{2};
    config.reply_reserve_bytes = 1500;
    host = std::make_unique<VmbusHost>(mem, synic, log, config);
    ASSERT_FALSE(host->add_device(disk).is_error());
    guest = std::make_unique<LinuxGuest>(*host, mem, synic);
    offer = guest->boot()[0];
    LinuxChannel channel = open(4, 2);
    for (uint32_t i = 0; i < 8; ++i)
        ASSERT_EQ(channel.send_inband(i, bytes(600, 1), true), 0);
    // Each completion takes 624 bytes; a request is handed over only while more than 1500 bytes
    // are free (4096, 3472, 2848, 2224, 1600): five, where the VSP alone would take a sixth.
    EXPECT_EQ(disk.packets.size(), 5u);
    EXPECT_EQ(channel.inbound.get(12), 1500u);
    EXPECT_EQ(channel.receive_all().size(), 5u);
    EXPECT_EQ(disk.packets.size(), 8u);
}

TEST_F(VmbusRings, AGuestWaitingForRingSpaceIsSignalled) {
    LinuxChannel channel = open(2, 2);
    channel.outbound.set(8, 1); // the host looks busy: the guest does not signal
    std::vector<uint8_t> packet = bytes(200, 4);
    int sent = 0;
    while (channel.send_inband(sent, packet, false) == 0)
        ++sent;
    EXPECT_GT(sent, 10);
    EXPECT_EQ(channel.signals_to_host, 0u);
    channel.outbound.set(12, 240); // set_channel_pending_send_size(): room for one more
    synic.events.clear();
    hv::SynicPort* port = host->port_for(offer.connection_id);
    EXPECT_EQ(port->on_event(0, 0), hv::PortStatus::success);
    EXPECT_EQ(disk.packets.size(), static_cast<size_t>(sent));
    EXPECT_EQ(synic.events_for(offer.relid), 1u) << "told the guest its room is free";
    EXPECT_EQ(channel.send_inband(99, packet, false), 0);
}

TEST_F(VmbusRings, VspsSendUnsolicitedPacketsThroughTheHost) {
    EXPECT_EQ(host->endpoint(disk, 0), nullptr) << "not open yet";
    LinuxChannel channel = open(2, 2);
    ChannelEndpoint* endpoint = host->endpoint(disk, 0);
    ASSERT_NE(endpoint, nullptr);
    std::vector<uint8_t> note = bytes(20, 5);
    ASSERT_FALSE(endpoint->send_inband(77, note, true).is_error());
    std::vector<Packet> packets = channel.receive_all();
    ASSERT_EQ(packets.size(), 1u);
    EXPECT_EQ(packets[0].type, 6);
    EXPECT_EQ(packets[0].flags, 1);
    EXPECT_EQ(packets[0].trans_id, 77u);
    EXPECT_EQ(packets[0].payload.size(), 24u);
    guest->close(channel);
    EXPECT_EQ(host->endpoint(disk, 0), nullptr);
    EXPECT_TRUE(endpoint->send_inband(78, note, false).is_error()) << "closed";
}

TEST_F(VmbusRings, RingsMayUseScatteredPages) {
    std::vector<uint64_t> pfns = {0x9000, 0x7000, 0x7003, 0x8000, 0x6000, 0x6001};
    LinuxChannel channel = guest->open(offer, 3, 3, 0, pfns);
    ASSERT_EQ(channel.status, 0u);
    for (uint32_t i = 0; i < 100; ++i) {
        std::vector<uint8_t> request = bytes(200 + i, static_cast<uint8_t>(i));
        ASSERT_EQ(channel.send_inband(i, request, true), 0);
        std::vector<Packet> packets = channel.receive_all();
        ASSERT_EQ(packets.size(), 1u);
        EXPECT_TRUE(std::equal(request.begin(), request.end(), packets[0].payload.begin()));
    }
}

} // namespace
} // namespace vmbus_test
