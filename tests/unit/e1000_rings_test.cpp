// The e1000 receive and transmit rings against the fake device: descriptor-done handling, the
// tail/head protocol across many wraparounds, a full ring on either side, errored and split
// frames, budgets, multicast filtering and statistics.
#include "tests/unit/e1000_test_support.hpp"

using namespace halcyon;
using namespace halcyon::test;

namespace {

constexpr MacAddress kOurs = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

uint32_t tag_of(const std::vector<uint8_t>& frame) {
    uint32_t tag;
    std::memcpy(&tag, frame.data() + 14, sizeof tag);
    return tag;
}

struct Rig {
    explicit Rig(Model model = Model::e1000, uint16_t rx = 8, uint16_t tx = 8) : device(model) {
        Options options;
        options.receive_descriptors = rx;
        options.transmit_descriptors = tx;
        const auto started = driver.start(model, device, device, device, options);
        EXPECT_FALSE(started.is_error());
    }
    // Sends one frame through the two-step API; false when the driver said busy.
    bool send(uint32_t tag, size_t length = 100) {
        auto buffer = driver.transmit_buffer();
        if (buffer.is_error())
            return false;
        const std::vector<uint8_t> frame = make_frame(kBroadcast, tag, length);
        EXPECT_GE(buffer.value().size(), length);
        std::memcpy(buffer.value().data(), frame.data(), length);
        EXPECT_FALSE(driver.transmit(length).is_error());
        return true;
    }
    FakeE1000 device;
    Driver driver;
};

TEST(E1000Receive, DeliversInOrderAcrossManyWraparounds) {
    for (Model model : {Model::e1000, Model::e1000e}) {
        Rig rig(model, 8);
        CollectingSink sink;
        uint32_t next_tag = 0;
        // Batches of varying size, always fewer than the 7 descriptors the device owns, so
        // nothing is missed; 40 rounds go around the 8-entry ring many times.
        for (int round = 0; round < 40; ++round) {
            const int batch = 1 + round % 7;
            for (int i = 0; i < batch; ++i) {
                ASSERT_EQ(rig.device.receive(make_frame(kOurs, next_tag++, 60 + round)),
                          FakeE1000::Received::stored)
                    << "round " << round;
            }
            EXPECT_EQ(rig.driver.poll(sink, 64), size_t(batch));
        }
        ASSERT_EQ(sink.frames.size(), next_tag);
        for (uint32_t i = 0; i < next_tag; ++i)
            EXPECT_EQ(tag_of(sink.frames[i]), i);
        EXPECT_EQ(sink.frames.back().size(), 60u + 39);
        EXPECT_EQ(rig.driver.counters().received, next_tag);
        EXPECT_EQ(rig.driver.counters().dropped_receive, 0u);
    }
}

TEST(E1000Receive, FullRingMissesFramesAndRecoversAfterPolling) {
    Rig rig(Model::e1000, 8);
    // 7 descriptors are the device's; the 8th frame has nowhere to go.
    for (uint32_t i = 0; i < 7; ++i)
        ASSERT_EQ(rig.device.receive(make_frame(kOurs, i)), FakeE1000::Received::stored);
    EXPECT_EQ(rig.device.receive(make_frame(kOurs, 99)), FakeE1000::Received::missed);

    CollectingSink sink;
    EXPECT_EQ(rig.driver.poll(sink, 64), 7u);
    // All descriptors are back: another 7 fit, the 8th misses again.
    for (uint32_t i = 7; i < 14; ++i)
        ASSERT_EQ(rig.device.receive(make_frame(kOurs, i)), FakeE1000::Received::stored);
    EXPECT_EQ(rig.device.receive(make_frame(kOurs, 98)), FakeE1000::Received::missed);
    EXPECT_EQ(rig.driver.poll(sink, 64), 7u);
    ASSERT_EQ(sink.frames.size(), 14u);
    for (uint32_t i = 0; i < 14; ++i)
        EXPECT_EQ(tag_of(sink.frames[i]), i);

    const HardwareCounters& hw = rig.driver.refresh_counters();
    EXPECT_EQ(hw.missed, 2u);
    EXPECT_EQ(hw.no_buffers, 2u);
    EXPECT_EQ(hw.good_received, 14u);
    EXPECT_EQ(rig.driver.refresh_counters().missed, 2u) << "clear-on-read values accumulate once";
}

TEST(E1000Receive, BudgetLimitsOnePollAndTheRestWaits) {
    Rig rig(Model::e1000e, 16);
    for (uint32_t i = 0; i < 10; ++i)
        ASSERT_EQ(rig.device.receive(make_frame(kOurs, i)), FakeE1000::Received::stored);
    CollectingSink sink;
    EXPECT_EQ(rig.driver.poll(sink, 4), 4u);
    EXPECT_EQ(rig.device.reg(kRdt), 3u) << "tail = the last descriptor software finished";
    EXPECT_EQ(rig.driver.poll(sink, 4), 4u);
    EXPECT_EQ(rig.driver.poll(sink, 4), 2u);
    EXPECT_EQ(rig.driver.poll(sink, 4), 0u) << "nothing done: nothing delivered";
    ASSERT_EQ(sink.frames.size(), 10u);
    EXPECT_EQ(tag_of(sink.frames[9]), 9u);
}

TEST(E1000Receive, DropsErroredOversizedAndSplitFramesAndKeepsGoing) {
    Rig rig(Model::e1000, 16);
    CollectingSink sink;
    ASSERT_EQ(rig.device.receive(make_frame(kOurs, 1)), FakeE1000::Received::stored);
    ASSERT_EQ(rig.device.receive(make_frame(kOurs, 2), /*errors CE*/ 0x01),
              FakeE1000::Received::stored);
    ASSERT_EQ(rig.device.receive(make_frame(kOurs, 3, 1400), 0, /*pieces*/ 3),
              FakeE1000::Received::stored);
    ASSERT_EQ(rig.device.receive(make_frame(kOurs, 4, 10)), FakeE1000::Received::stored); // runt
    ASSERT_EQ(rig.device.receive(make_frame(kOurs, 5, 1600)), FakeE1000::Received::stored);
    ASSERT_EQ(rig.device.receive(make_frame(kOurs, 6), /*IPE only*/ 0x40),
              FakeE1000::Received::stored);
    EXPECT_EQ(rig.driver.poll(sink, 64), 2u);
    ASSERT_EQ(sink.frames.size(), 2u);
    EXPECT_EQ(tag_of(sink.frames[0]), 1u);
    EXPECT_EQ(tag_of(sink.frames[1]), 6u) << "checksum-offload bits do not make a frame bad";
    // errored + 3 pieces of the split frame + runt + oversized.
    EXPECT_EQ(rig.driver.counters().dropped_receive, 6u);
    // Every descriptor went back: the device can fill the ring again.
    for (uint32_t i = 0; i < 15; ++i)
        ASSERT_EQ(rig.device.receive(make_frame(kOurs, 100 + i)), FakeE1000::Received::stored);
    EXPECT_EQ(rig.driver.poll(sink, 64), 15u);
}

TEST(E1000Receive, FiltersUnicastBroadcastAndChosenMulticast) {
    Rig rig(Model::e1000e, 16);
    const MacAddress other = {0x52, 0x54, 0x00, 0x99, 0x99, 0x99};
    const MacAddress all_nodes = {0x33, 0x33, 0x00, 0x00, 0x00, 0x01};
    const MacAddress mdns = {0x01, 0x00, 0x5E, 0x00, 0x00, 0xFB};
    EXPECT_EQ(rig.device.receive(make_frame(other, 1)), FakeE1000::Received::filtered);
    EXPECT_EQ(rig.device.receive(make_frame(all_nodes, 2)), FakeE1000::Received::filtered);
    EXPECT_EQ(rig.device.receive(make_frame(kBroadcast, 3)), FakeE1000::Received::stored);
    EXPECT_EQ(rig.device.receive(make_frame(kOurs, 4)), FakeE1000::Received::stored);

    ASSERT_FALSE(rig.driver.accept_multicast(all_nodes).is_error());
    // MO = 00 hashes bits 47:36: 33:33:00:00:00:01 -> 0x010 = MTA[0] bit 16;
    // 01:00:5e:00:00:fb -> 0xfb0 = MTA[125] bit 16.
    EXPECT_EQ(rig.device.reg(kMta + 0), 1u << 16);
    EXPECT_EQ(rig.device.receive(make_frame(all_nodes, 5)), FakeE1000::Received::stored);
    EXPECT_EQ(rig.device.receive(make_frame(mdns, 6)), FakeE1000::Received::filtered);
    ASSERT_FALSE(rig.driver.accept_multicast(mdns).is_error());
    EXPECT_EQ(rig.device.reg(kMta + 4 * 125), 1u << 16);
    EXPECT_EQ(rig.device.reg(kMta + 0), 1u << 16) << "earlier groups stay";
    EXPECT_EQ(rig.device.receive(make_frame(mdns, 7)), FakeE1000::Received::stored);
    EXPECT_TRUE(rig.driver.accept_multicast(kOurs).is_error()) << "unicast is not a group";

    CollectingSink sink;
    EXPECT_EQ(rig.driver.poll(sink, 64), 4u);
}

TEST(E1000Transmit, SendsAcrossManyWraparoundsAndReclaims) {
    for (Model model : {Model::e1000, Model::e1000e}) {
        Rig rig(model, 8, 8);
        for (uint32_t i = 0; i < 50; ++i)
            ASSERT_TRUE(rig.send(i, 60 + i)) << i;
        ASSERT_EQ(rig.device.sent.size(), 50u);
        for (uint32_t i = 0; i < 50; ++i) {
            EXPECT_EQ(tag_of(rig.device.sent[i]), i);
            EXPECT_EQ(rig.device.sent[i].size(), 60u + i);
        }
        EXPECT_EQ(rig.device.reg(kTdt), 50u % 8);
        EXPECT_EQ(rig.driver.counters().sent, 50u);
        EXPECT_EQ(rig.driver.refresh_counters().good_sent, 50u);
    }
}

TEST(E1000Transmit, BusyWhenTheDeviceHoldsEveryDescriptorThenResumes) {
    Rig rig(Model::e1000, 8, 8);
    rig.device.transmit_on_tail_write = false; // the device is slow
    // 7 in flight at most: one descriptor always separates tail from head.
    for (uint32_t i = 0; i < 7; ++i)
        ASSERT_TRUE(rig.send(i));
    EXPECT_FALSE(rig.send(7));
    EXPECT_EQ(rig.driver.counters().transmit_busy, 1u);
    EXPECT_EQ(rig.device.reg(kTdt), 7u);
    EXPECT_EQ(rig.device.reg(kTdh), 0u);

    // The device catches up; the descriptors are reclaimed on the next request.
    rig.device.transmit_on_tail_write = true;
    EXPECT_EQ(rig.device.process_transmit(), 7u);
    for (uint32_t i = 7; i < 14; ++i)
        ASSERT_TRUE(rig.send(i)) << i;
    ASSERT_EQ(rig.device.sent.size(), 14u);
    for (uint32_t i = 0; i < 14; ++i)
        EXPECT_EQ(tag_of(rig.device.sent[i]), i);
}

TEST(E1000Transmit, ReclaimsOnlyDescriptorsTheDeviceMarkedDone) {
    Rig rig(Model::e1000e, 8, 8);
    rig.device.transmit_on_tail_write = false;
    for (uint32_t i = 0; i < 7; ++i)
        ASSERT_TRUE(rig.send(i));
    // The device completes the first 2 only (it advances TDH one at a time).
    const uint32_t tail = rig.device.reg(kTdt);
    rig.device.reg(kTdt) = 2;
    rig.device.process_transmit();
    rig.device.reg(kTdt) = tail;
    ASSERT_TRUE(rig.send(7));
    ASSERT_TRUE(rig.send(8));
    EXPECT_FALSE(rig.send(9)) << "only the two completed descriptors were free";
    CollectingSink sink;
    rig.device.process_transmit();
    (void)rig.driver.poll(sink, 1); // polling reclaims too
    ASSERT_TRUE(rig.send(9));
}

TEST(E1000Transmit, PadsShortFramesWithZerosAndRejectsBadLengths) {
    Rig rig(Model::e1000, 8, 8);
    // Leave junk in the buffer from an earlier long frame, then send a 42-byte ARP-sized one.
    for (uint32_t i = 0; i < 8; ++i)
        ASSERT_TRUE(rig.send(0xAAAA'AAAA, 1000));
    ASSERT_TRUE(rig.send(1, 42));
    const std::vector<uint8_t>& frame = rig.device.sent.back();
    ASSERT_EQ(frame.size(), 60u);
    for (size_t i = 42; i < 60; ++i)
        EXPECT_EQ(frame[i], 0) << i;

    EXPECT_TRUE(rig.driver.transmit(64).is_error()) << "transmit() without a buffer";
    ASSERT_FALSE(rig.driver.transmit_buffer().is_error());
    EXPECT_TRUE(rig.driver.transmit(1515).is_error());
    EXPECT_TRUE(rig.driver.transmit(0).is_error());
    EXPECT_FALSE(rig.driver.transmit(1514).is_error()) << "the buffer stays reserved after errors";
}

TEST(E1000Transmit, ReceivingAndTransmittingInterleave) {
    // lwIP answers from inside the receive callback: transmitting from the sink must work.
    Rig rig(Model::e1000e, 8, 8);
    struct Echo final : FrameSink {
        Driver* driver;
        void deliver(std::span<const uint8_t> frame) override {
            auto buffer = driver->transmit_buffer();
            ASSERT_FALSE(buffer.is_error());
            std::memcpy(buffer.value().data(), frame.data(), frame.size());
            ASSERT_FALSE(driver->transmit(frame.size()).is_error());
        }
    } echo;
    echo.driver = &rig.driver;
    for (uint32_t round = 0; round < 20; ++round) {
        for (uint32_t i = 0; i < 5; ++i)
            ASSERT_EQ(rig.device.receive(make_frame(kOurs, round * 5 + i)),
                      FakeE1000::Received::stored);
        EXPECT_EQ(rig.driver.poll(echo, 64), 5u);
    }
    ASSERT_EQ(rig.device.sent.size(), 100u);
    for (uint32_t i = 0; i < 100; ++i)
        EXPECT_EQ(tag_of(rig.device.sent[i]), i);
}

TEST(E1000Link, FollowsTheStatusRegister) {
    Rig rig(Model::e1000);
    EXPECT_TRUE(rig.driver.link_up());
    rig.device.reg(kStatus) &= ~kStatusLinkUp;
    EXPECT_FALSE(rig.driver.link_up());
    EXPECT_EQ(rig.device.receive(make_frame(kOurs, 1)), FakeE1000::Received::disabled);
}

TEST(E1000Hash, MatchesTheDatasheetBits) {
    // Bits 47:36 of the address = upper nibble of byte 4 and all of byte 5.
    EXPECT_EQ(Driver::multicast_hash({0x01, 0x00, 0x5E, 0x00, 0x00, 0x01}).index, 0u);
    EXPECT_EQ(Driver::multicast_hash({0x01, 0x00, 0x5E, 0x00, 0x00, 0x01}).bit, 16u);
    EXPECT_EQ(Driver::multicast_hash({0x33, 0x33, 0xFF, 0x12, 0xF0, 0xFF}).index, 127u);
    EXPECT_EQ(Driver::multicast_hash({0x33, 0x33, 0xFF, 0x12, 0xF0, 0xFF}).bit, 31u);
    EXPECT_EQ(Driver::multicast_hash({0x33, 0x33, 0xFF, 0x12, 0x0F, 0x00}).index, 0u);
    EXPECT_EQ(Driver::multicast_hash({0x33, 0x33, 0xFF, 0x12, 0x0F, 0x00}).bit, 0u);
}

} // namespace
