// The vstor protocol as Linux 6.1's hv_storvsc drives it: the init handshake, version
// negotiation, properties, sub-channels, resets, and every way a packet can be malformed.
#include "storvsp_test_support.hpp"

using namespace storvsp_test;

namespace {

constexpr uint32_t kRevisionMismatch = 0xC0000059;
constexpr uint32_t kInvalidDeviceState = 0xC0000184;
constexpr uint32_t kInvalidParameter = 0xC000000D;
constexpr uint32_t kInvalidDeviceRequest = 0xC0000010;

TEST(StorvspProtocol, OfferIsTheScsiInterface) {
    Harness h;
    // ba6163d9-04a1-4d29-b605-72e2ffb1dc7f, first three fields little-endian.
    const uint8_t expected[16] = {0xd9, 0x63, 0x61, 0xba, 0xa1, 0x04, 0x29, 0x4d,
                                  0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f};
    EXPECT_EQ(0, std::memcmp(h.controller.offer().interface_type.bytes, expected, 16));
    EXPECT_EQ(h.controller.offer().instance.bytes[0], 0x42);
    EXPECT_EQ(h.controller.offer().max_subchannels, 4);
    EXPECT_FALSE(h.controller.offer().pipe_mode);
}

TEST(StorvspProtocol, Linux61HandshakeNegotiatesWin10) {
    Harness h;
    LinuxChannelProperties props = h.initialize();
    EXPECT_EQ(h.controller.protocol_version(), 0x0602);
    EXPECT_EQ(props.max_channel_cnt, 4);
    EXPECT_EQ(props.flags, 1u); // STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL
    EXPECT_EQ(props.max_transfer_bytes, 256u * 1024);
    // Every reply is a COMPLETE_IO of the full 64-byte vstor_packet Linux insists on, with the
    // request's transaction id.
    ASSERT_EQ(h.endpoint(0).sent.size(), 4u);
    for (const SentPacket& p : h.endpoint(0).sent) {
        EXPECT_TRUE(p.completion);
        EXPECT_EQ(p.payload.size(), 64u);
        EXPECT_EQ(p.payload[0], 1); // COMPLETE_IO
    }
}

TEST(StorvspProtocol, UnsupportedVersionsAreRefusedThenOlderAccepted) {
    Harness h;
    ASSERT_FALSE(h.controller.on_open(0).is_error());
    ASSERT_EQ(h.operation(7).status, 0u);
    // A newer Linux offers 10.0 first: refused, echoed, negotiation continues.
    Reply r = h.query_version(0x0A00);
    EXPECT_EQ(r.status, kRevisionMismatch);
    LinuxVstorPacket echoed{};
    std::memcpy(&echoed, h.endpoint(0).sent.back().payload.data(), 64);
    EXPECT_EQ(echoed.version.major_minor, 0x0A00);
    EXPECT_EQ(h.query_version(0x0100).status, kRevisionMismatch);
    EXPECT_EQ(h.query_version(0x0600).status, 0u);
    EXPECT_EQ(h.controller.protocol_version(), 0x0600);
    // A second negotiation is out of order now.
    EXPECT_EQ(h.query_version(0x0602).status, kInvalidDeviceState);
}

TEST(StorvspProtocol, Win8IsTheOldestLinuxOffer) {
    Harness h;
    h.initialize({0x0501});
    EXPECT_EQ(h.controller.protocol_version(), 0x0501);
}

TEST(StorvspProtocol, OutOfOrderOperationsAreRefusedNotFatal) {
    Harness h;
    ASSERT_FALSE(h.controller.on_open(0).is_error());
    EXPECT_EQ(h.operation(10).status, kInvalidDeviceState); // properties before begin
    EXPECT_EQ(h.operation(8).status, kInvalidDeviceState);
    EXPECT_EQ(h.operation(7).status, 0u);
    EXPECT_EQ(h.operation(7).status, kInvalidDeviceState);  // begin twice
    EXPECT_EQ(h.operation(10).status, kInvalidDeviceState); // properties before version
    // An SRB before END_INITIALIZATION.
    Reply r = h.scsi({0x00, 0, 0, 0, 0, 0}, 0, 2);
    EXPECT_EQ(r.status, kInvalidDeviceState);
    EXPECT_FALSE(h.controller.ready());
}

TEST(StorvspProtocol, SubChannelsAreOfferedThroughTheHost) {
    Harness h;
    h.initialize();
    // Linux: CREATE_SUB_CHANNELS after END_INITIALIZATION, num_sc = min(cpus - 1, max).
    Reply r = h.create_sub_channels(3);
    EXPECT_EQ(r.status, 0u);
    ASSERT_EQ(h.host.offers.size(), 1u);
    EXPECT_EQ(h.host.offers[0], 3);
    EXPECT_EQ(h.controller.subchannels_offered(), 3);
    for (uint16_t sc = 1; sc <= 3; ++sc)
        EXPECT_FALSE(h.controller.on_open(sc).is_error());
    EXPECT_TRUE(h.controller.on_open(4).is_error());
    // I/O on a sub-channel is answered on that sub-channel.
    MemoryDisk disk(64);
    ASSERT_FALSE(h.controller.attach(0, disk.device).is_error());
    r = h.scsi({0x00, 0, 0, 0, 0, 0}, 0, 2, {}, 2);
    EXPECT_TRUE(r.good());
    EXPECT_EQ(h.endpoint(2).sent.size(), 1u);
    // Initialization operations are not for sub-channels.
    EXPECT_EQ(h.operation(7, 2).status, kInvalidDeviceState);
    EXPECT_EQ(h.operation(13, 1).status, kInvalidDeviceState);
    // Asking for no more than exist is fine and offers nothing new.
    EXPECT_EQ(h.create_sub_channels(2).status, 0u);
    EXPECT_EQ(h.host.offers.size(), 1u);
    EXPECT_EQ(h.create_sub_channels(0).status, kInvalidParameter);
    EXPECT_EQ(h.create_sub_channels(5).status, kInvalidParameter);
    h.host.fail = true;
    EXPECT_EQ(h.create_sub_channels(4).status, 0xC0000001u);
}

TEST(StorvspProtocol, SubChannelsBeforeEndInitializationLikeWindows) {
    Harness h;
    ASSERT_FALSE(h.controller.on_open(0).is_error());
    h.operation(7);
    h.query_version(0x0602);
    h.operation(10);
    EXPECT_EQ(h.create_sub_channels(2).status, 0u);
    EXPECT_EQ(h.operation(8).status, 0u);
    EXPECT_TRUE(h.controller.ready());
    EXPECT_EQ(h.controller.subchannels_offered(), 2);
}

TEST(StorvspProtocol, NoMultiChannelWithoutSubChannels) {
    Harness h(0);
    LinuxChannelProperties props = h.initialize();
    EXPECT_EQ(props.max_channel_cnt, 0);
    EXPECT_EQ(props.flags, 0u);
    EXPECT_EQ(h.create_sub_channels(1).status, kInvalidParameter);
    EXPECT_TRUE(h.host.offers.empty());
}

TEST(StorvspProtocol, Win7UsesTheShortSrb) {
    Harness h;
    LinuxChannelProperties props = h.initialize({0x0402});
    EXPECT_EQ(props.flags, 0u); // no multi-channel before Windows 8
    EXPECT_EQ(h.create_sub_channels(1).status, kInvalidDeviceState);
    MemoryDisk disk(64);
    ASSERT_FALSE(h.controller.attach(0, disk.device).is_error());
    // An old storvsc sends header + 0x24-byte SRB; the reply has the same size.
    LinuxVstorPacket p = Harness::srb_packet({0x00, 0, 0, 0, 0, 0}, 0, 2, 0);
    p.srb.length = 0x24;
    auto bytes = bytes_of(p);
    bytes.resize(12 + 0x24);
    ASSERT_FALSE(h.send_raw(bytes).is_error());
    Reply r = h.last_reply();
    EXPECT_EQ(r.size, 12u + 0x24);
    EXPECT_TRUE(r.good());
    // Sense is capped at the pre-Windows 8 buffer (0x12 bytes).
    p = Harness::srb_packet({0xC5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0, 2, 0);
    bytes = bytes_of(p);
    bytes.resize(12 + 0x24);
    ASSERT_FALSE(h.send_raw(bytes).is_error());
    r = h.last_reply();
    EXPECT_EQ(r.srb.sense_info_length, 0x12);
    EXPECT_TRUE(r.check_condition(5, 0x20, 0));
}

TEST(StorvspProtocol, ResetsCompleteAndFibreChannelDataIsRefused) {
    Harness h;
    h.initialize();
    EXPECT_EQ(h.operation(6).status, 0u); // RESET_BUS (storvsc_host_reset_handler)
    EXPECT_EQ(h.operation(5).status, 0u);
    EXPECT_EQ(h.operation(4).status, 0u);
    EXPECT_EQ(h.operation(12).status, kInvalidDeviceRequest); // FC_HBA_DATA
    EXPECT_EQ(h.operation(2).status, kInvalidDeviceState);    // REMOVE_DEVICE is host->guest
    EXPECT_EQ(h.operation(11).status, kInvalidDeviceState);   // so is ENUMERATE_BUS
    EXPECT_EQ(h.operation(1).status, kInvalidDeviceState);    // and COMPLETE_IO
}

TEST(StorvspProtocol, ReopeningThePrimaryStartsOver) {
    Harness h;
    h.initialize();
    h.controller.on_close(0);
    EXPECT_FALSE(h.controller.ready());
    // A closed channel takes nothing.
    LinuxVstorPacket p{};
    p.operation = 7;
    EXPECT_TRUE(h.send_raw(bytes_of(p)).is_error());
    h.initialize({0x0501});
    EXPECT_EQ(h.controller.protocol_version(), 0x0501);
}

TEST(StorvspProtocol, BusyRingConsumesNothing) {
    Harness h;
    ASSERT_FALSE(h.controller.on_open(0).is_error());
    h.endpoint(0).room = false;
    LinuxVstorPacket p{};
    p.operation = 7;
    p.flags = kRequestCompletionFlag;
    auto status = h.send_raw(bytes_of(p));
    ASSERT_TRUE(status.is_error());
    EXPECT_EQ(status.error().code(), ErrorCode::busy);
    EXPECT_TRUE(h.endpoint(0).sent.empty());
    h.endpoint(0).room = true;
    EXPECT_EQ(h.operation(7).status, 0u); // still waiting for BEGIN: nothing was consumed
}

// Each of these breaks the protocol: on_packet fails (the host closes the channel) and nothing
// is sent.
class StorvspMalformed : public ::testing::Test {
protected:
    void SetUp() override {
        h.initialize();
        ASSERT_FALSE(h.controller.attach(0, disk.device).is_error());
        sent_before = h.endpoint(0).sent.size();
    }
    void expect_refused(ErrorOr<void> status) {
        EXPECT_TRUE(status.is_error());
        if (status.is_error())
            EXPECT_NE(status.error().code(), ErrorCode::busy);
        EXPECT_EQ(h.endpoint(0).sent.size(), sent_before);
    }
    Harness h;
    MemoryDisk disk{256};
    size_t sent_before = 0;
};

TEST_F(StorvspMalformed, CompletionPacketsAndUnrequestedCompletions) {
    auto bytes = bytes_of(Harness::srb_packet({0, 0, 0, 0, 0, 0}, 0, 2, 0));
    expect_refused(h.send_raw(bytes, {}, 0, true, vmbus::PacketType::completion));
    expect_refused(h.send_raw(bytes, {}, 0, true, vmbus::PacketType::data_using_transfer_pages));
    expect_refused(h.send_raw(bytes, {}, 0, false));
}

TEST_F(StorvspMalformed, ShortPacketsAndUnknownOperations) {
    auto bytes = bytes_of(Harness::srb_packet({0, 0, 0, 0, 0, 0}, 0, 2, 0));
    expect_refused(h.send_raw(std::span<const uint8_t>(bytes).first(11)));
    // EXECUTE_SRB shorter than header + the Windows 8 SRB.
    expect_refused(h.send_raw(std::span<const uint8_t>(bytes).first(12 + 0x33)));
    for (uint32_t op : {0u, 14u, 0xFFFFFFFFu}) {
        LinuxVstorPacket p{};
        p.operation = op;
        expect_refused(h.send_raw(bytes_of(p)));
    }
    LinuxVstorPacket p{};
    p.operation = 13;
    expect_refused(h.send_raw(std::span<const uint8_t>(bytes_of(p)).first(13)));
}

TEST_F(StorvspMalformed, VersionQueryTooShort) {
    Harness fresh;
    ASSERT_FALSE(fresh.controller.on_open(0).is_error());
    fresh.operation(7);
    LinuxVstorPacket p{};
    p.operation = 9;
    auto bytes = bytes_of(p);
    size_t before = fresh.endpoint(0).sent.size();
    EXPECT_TRUE(fresh.send_raw(std::span<const uint8_t>(bytes).first(14)).is_error());
    EXPECT_EQ(fresh.endpoint(0).sent.size(), before);
}

TEST_F(StorvspMalformed, TransferLongerThanItsPageList) {
    // READ(10) of 2 sectors with a 512-byte range.
    auto p = Harness::srb_packet({0x28, 0, 0, 0, 0, 0, 0, 0, 2, 0}, 0, 1, 1024);
    auto bytes = bytes_of(p);
    uint64_t page = 0x10;
    vmbus::GpaRange range{512, 0, {&page, 1}};
    expect_refused(h.send_raw(bytes, {&range, 1}));
    // No page list at all (in-band) for a data transfer.
    expect_refused(h.send_raw(bytes));
}

TEST_F(StorvspMalformed, BadPageLists) {
    auto p = Harness::srb_packet({0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 0, 1, 512);
    auto bytes = bytes_of(p);
    uint64_t pages[2] = {0x10, 0x11};
    vmbus::GpaRange too_many{512, 0, {pages, 2}};
    expect_refused(h.send_raw(bytes, {&too_many, 1}));
    vmbus::GpaRange too_few{512, 3800, {pages, 1}};
    expect_refused(h.send_raw(bytes, {&too_few, 1}));
    vmbus::GpaRange offset_past_page{512, 4096, {pages, 1}};
    expect_refused(h.send_raw(bytes, {&offset_past_page, 1}));
    vmbus::GpaRange empty{0, 0, {}};
    vmbus::GpaRange good{512, 0, {pages, 1}};
    vmbus::GpaRange with_empty[2] = {empty, good};
    expect_refused(h.send_raw(bytes, with_empty));
    uint64_t huge = UINT64_MAX / 4096 + 1;
    vmbus::GpaRange overflowing{512, 0, {&huge, 1}};
    expect_refused(h.send_raw(bytes, {&overflowing, 1}));
    // A page list on something that is not an SRB.
    LinuxVstorPacket reset{};
    reset.operation = 6;
    expect_refused(h.send_raw(bytes_of(reset), {&good, 1}));
}

TEST_F(StorvspMalformed, PacketOnASubChannelThatDoesNotExist) {
    auto bytes = bytes_of(Harness::srb_packet({0, 0, 0, 0, 0, 0}, 0, 2, 0));
    EXPECT_TRUE(h.send_raw(bytes, {}, 3).is_error());
    EXPECT_TRUE(h.endpoint(3).sent.empty());
}

} // namespace
