// Several guest vCPUs at once: each drives its own sub-channel of one device (storvsc's
// multi-queue I/O) while another posts channel messages and the worker polls. Every request must
// be answered (a lost kick would leave one in a ring forever: the test fails on no progress) and
// the VSP must never be entered from two vCPUs at once.
#include "tests/unit/vmbus_linux_guest.hpp"

#include <chrono>
#include <memory>
#include <thread>

namespace vmbus_test {
namespace {

// Checks that calls into it are serialized, as channel_device.hpp promises.
class SerializedDevice final : public ChannelDevice {
public:
    explicit SerializedDevice(uint16_t max_subchannels) {
        info_.interface_type = make_guid(0x40);
        info_.instance = make_guid(0x41);
        info_.max_subchannels = max_subchannels;
    }
    const OfferInfo& offer() const override { return info_; }
    ErrorOr<void> on_open(uint16_t) override { return {}; }
    void on_close(uint16_t) override {}
    ErrorOr<void> on_packet(uint16_t, const IncomingPacket& packet, ChannelEndpoint& reply,
                            GuestMemory&) override {
        if (inside.fetch_add(1) != 0)
            overlaps.fetch_add(1);
        std::this_thread::yield(); // widen the window for a second vCPU
        ErrorOr<void> result = {};
        if (!reply.can_send(static_cast<uint32_t>(packet.payload.size())))
            result = Error(ErrorCode::busy, "guest ring full");
        else
            result = reply.send_completion(packet.transaction_id, packet.payload);
        if (!result.is_error())
            handled.fetch_add(1);
        inside.fetch_sub(1);
        return result;
    }

    OfferInfo info_;
    std::atomic<int> inside{0};
    std::atomic<int> overlaps{0};
    std::atomic<int> handled{0};
};

TEST(VmbusConcurrency, SubchannelsOnSeveralVcpusAllGetTheirAnswers) {
    constexpr uint32_t kQueues = 4;
    constexpr uint32_t kRequests = 150;
    FakeGuestMemory mem{256 << 20};
    mem.track = false;
    FakeSynic synic;
    RecordingLog log;
    SerializedDevice disk(kQueues - 1);
    auto host = std::make_unique<VmbusHost>(mem, synic, log, VmbusHostConfig{kQueues});
    ASSERT_FALSE(host->add_device(disk).is_error());
    LinuxGuest guest(*host, mem, synic);
    std::vector<Offer> offers = guest.boot();
    ASSERT_EQ(offers.size(), 1u);
    std::vector<LinuxChannel> channels;
    channels.push_back(guest.open(offers[0], 2, 2, 0));
    ASSERT_FALSE(host->offer_subchannels(disk, kQueues - 1).is_error());
    host->poll();
    std::vector<Offer> subs;
    for (uint32_t q = 1; q < kQueues; ++q)
        subs.push_back(guest.take_offer());
    for (uint32_t q = 1; q < kQueues; ++q)
        channels.push_back(guest.open(subs[q - 1], 2, 2, q));
    for (const LinuxChannel& channel : channels)
        ASSERT_EQ(channel.status, 0u);

    std::atomic<bool> stop{false};
    std::atomic<int> stalled{0};
    auto vcpu = [&](uint32_t q) {
        LinuxChannel& channel = channels[q];
        uint32_t sent = 0, answered = 0;
        auto last_progress = std::chrono::steady_clock::now();
        while (answered < kRequests) {
            if (sent < kRequests) {
                std::vector<uint8_t> request(8 + (sent * 13 + q) % 300, static_cast<uint8_t>(q));
                if (channel.send_inband(uint64_t{q} << 32 | sent, request, true) == 0)
                    ++sent;
            }
            std::vector<Packet> packets = channel.receive_all();
            for (const Packet& packet : packets) {
                EXPECT_EQ(packet.trans_id, uint64_t{q} << 32 | answered) << "in order";
                ++answered;
                last_progress = std::chrono::steady_clock::now();
            }
            if (packets.empty())
                std::this_thread::yield(); // 2 host cores, shared: let the others run
            if (std::chrono::steady_clock::now() - last_progress > std::chrono::seconds(5)) {
                stalled.fetch_add(1);
                return;
            }
        }
    };
    std::thread control([&] {
        // Another vCPU keeps the control path busy (GPADLs come and go) and the worker polls.
        hv::SynicPort* port = host->port_for(1);
        for (uint32_t id = 1; !stop.load(); ++id) {
            uint8_t header[sizeof(linux_abi::gpadl_header) + 16] = {};
            linux_abi::gpadl_header fixed{{linux_abi::GPADL_HEADER, 0}, offers[0].relid, id, 16, 1};
            uint64_t entries[2] = {kPage, 0x7000 + id % 64};
            std::memcpy(header, &fixed, sizeof(fixed));
            std::memcpy(header + sizeof(fixed), entries, sizeof(entries));
            (void)port->on_message(0, 1, header);
            linux_abi::gpadl_teardown teardown{{linux_abi::GPADL_TEARDOWN, 0}, offers[0].relid, id};
            (void)port->on_message(0, 1,
                                   {reinterpret_cast<const uint8_t*>(&teardown), sizeof(teardown)});
            if (std::getenv("VMBUS_TEST_POLL"))
                host->poll();
            {
                std::lock_guard<std::mutex> guard(synic.lock);
                synic.messages.clear();
            }
            std::this_thread::yield();
        }
    });
    std::vector<std::thread> threads;
    for (uint32_t q = 0; q < kQueues; ++q)
        threads.emplace_back(vcpu, q);
    for (std::thread& thread : threads)
        thread.join();
    stop.store(true);
    control.join();

    EXPECT_EQ(stalled.load(), 0) << "a signal was lost";
    EXPECT_EQ(disk.overlaps.load(), 0) << "the VSP was entered from two vCPUs at once";
    EXPECT_EQ(disk.handled.load(), static_cast<int>(kQueues * kRequests));
    EXPECT_EQ(host->stats().channels_faulted, 0u);
    EXPECT_EQ(host->stats().refusals, 0u);
}

} // namespace
} // namespace vmbus_test
