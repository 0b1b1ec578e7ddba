// GPA-direct data transfers: buffers that start inside a page and span several, page lists in
// any order, several ranges in one packet, transfers larger than the bounce buffer, and data
// buffers the guest's memory does not back.
#include "storvsp_test_support.hpp"

#include <numeric>

using namespace storvsp_test;

namespace {

constexpr uint8_t kRead = 1, kWrite = 0, kNone = 2;

class StorvspTransfer : public ::testing::Test {
protected:
    StorvspTransfer() : disk(4096) {}
    void SetUp() override {
        ASSERT_FALSE(h.controller.attach(0, disk.device).is_error());
        h.initialize();
    }
    void fill(uint64_t gpa, uint32_t length, uint8_t seed) {
        auto span = h.ram(gpa, length);
        for (uint32_t i = 0; i < length; ++i)
            span[i] = static_cast<uint8_t>(seed ^ (i * 13) ^ (i >> 8));
    }
    // Sends an SRB with an explicit range list.
    Reply send(const LinuxVstorPacket& p, std::span<const vmbus::GpaRange> ranges) {
        auto bytes = bytes_of(p);
        auto status = h.send_raw(bytes, ranges);
        EXPECT_FALSE(status.is_error());
        return h.last_reply();
    }
    Harness h;
    MemoryDisk disk;
};

TEST_F(StorvspTransfer, BufferStartingMidPageSpansPages) {
    // 8 KiB + 512 starting 0xF00 into a page: four pages, first and last partial.
    const uint64_t source = 0x10F00;
    const uint32_t length = 8192 + 512;
    fill(source, length, 0x31);
    Reply r = h.scsi({0x2A, 0, 0, 0, 0, 100, 0, 0, 17, 0}, 0, kWrite, {source, length});
    ASSERT_TRUE(r.good());
    EXPECT_EQ(h.pages.size(), 4u);
    EXPECT_EQ(0,
              std::memcmp(disk.storage.data() + 100 * 512, h.ram(source, length).data(), length));
    const uint64_t target = 0x20010;
    r = h.scsi({0x28, 0, 0, 0, 0, 100, 0, 0, 17, 0}, 0, kRead, {target, length});
    ASSERT_TRUE(r.good());
    EXPECT_EQ(r.srb.data_transfer_length, length);
    EXPECT_EQ(0, std::memcmp(h.ram(target, length).data(), h.ram(source, length).data(), length));
    // Bytes around the target buffer are untouched.
    EXPECT_EQ(h.ram(target - 1, 1)[0], 0);
    EXPECT_EQ(h.ram(target + length, 1)[0], 0);
}

TEST_F(StorvspTransfer, ScatteredPagesLargerThanTheBounceBuffer) {
    // 256 KiB (the advertised maximum) over 64 pages in reverse order.
    const uint32_t length = 256 * 1024;
    std::vector<uint64_t> pages(64);
    for (size_t i = 0; i < pages.size(); ++i)
        pages[i] = 0x300 - i; // GPA 0x300000 downwards
    std::vector<uint8_t> expected(length);
    for (uint32_t i = 0; i < length; ++i)
        expected[i] = static_cast<uint8_t>(i * 31 + (i >> 12));
    for (size_t i = 0; i < pages.size(); ++i)
        std::memcpy(h.ram(pages[i] * 4096, 4096).data(), expected.data() + i * 4096, 4096);
    vmbus::GpaRange range{length, 0, pages};
    auto p = Harness::srb_packet({0x8A, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0x02, 0, 0, 0}, 0, kWrite,
                                 length);
    ASSERT_TRUE(send(p, {&range, 1}).good());
    EXPECT_EQ(0, std::memcmp(disk.storage.data() + 8 * 512, expected.data(), length));
    // Read it back into other scattered pages.
    for (size_t i = 0; i < pages.size(); ++i)
        pages[i] = 0x100 + 2 * i;
    p = Harness::srb_packet({0x88, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0x02, 0, 0, 0}, 0, kRead,
                            length);
    Reply r = send(p, {&range, 1});
    ASSERT_TRUE(r.good());
    EXPECT_EQ(r.srb.data_transfer_length, length);
    for (size_t i = 0; i < pages.size(); ++i)
        EXPECT_EQ(
            0, std::memcmp(h.ram(pages[i] * 4096, 4096).data(), expected.data() + i * 4096, 4096));
}

TEST_F(StorvspTransfer, SeveralRangesFormOneBuffer) {
    // 2048 bytes: 512 at 0x40100, then 1536 starting 0xE00 into page 0x51 (crossing into 0x52).
    uint64_t first_page = 0x40;
    uint64_t second_pages[2] = {0x51, 0x52};
    vmbus::GpaRange ranges[2] = {{512, 0x100, {&first_page, 1}}, {1536, 0xE00, second_pages}};
    fill(0x40100, 512, 0x11);
    fill(0x51E00, 1536, 0x77);
    auto p = Harness::srb_packet({0x2A, 0, 0, 0, 0, 10, 0, 0, 4, 0}, 0, kWrite, 2048);
    ASSERT_TRUE(send(p, ranges).good());
    EXPECT_EQ(0, std::memcmp(disk.storage.data() + 10 * 512, h.ram(0x40100, 512).data(), 512));
    EXPECT_EQ(0, std::memcmp(disk.storage.data() + 11 * 512, h.ram(0x51E00, 1536).data(), 1536));
    // And back, into fresh memory.
    std::memset(h.ram(0x40100, 512).data(), 0, 512);
    std::memset(h.ram(0x51E00, 1536).data(), 0, 1536);
    p = Harness::srb_packet({0x28, 0, 0, 0, 0, 10, 0, 0, 4, 0}, 0, kRead, 2048);
    ASSERT_TRUE(send(p, ranges).good());
    EXPECT_EQ(0, std::memcmp(disk.storage.data() + 10 * 512, h.ram(0x40100, 512).data(), 512));
    EXPECT_EQ(0, std::memcmp(disk.storage.data() + 11 * 512, h.ram(0x51E00, 1536).data(), 1536));
}

TEST_F(StorvspTransfer, RangesLongerThanTheTransferAreUsedOnlyThatFar) {
    std::memset(h.ram(0x60000, 4096).data(), 0xCC, 4096);
    uint64_t page = 0x60;
    vmbus::GpaRange range{4096, 0, {&page, 1}};
    // INQUIRY of 36 bytes with a 4 KiB range and data_transfer_length 36.
    auto p = Harness::srb_packet({0x12, 0, 0, 0, 255, 0}, 0, kRead, 36);
    Reply r = send(p, {&range, 1});
    ASSERT_TRUE(r.good());
    EXPECT_EQ(r.srb.data_transfer_length, 36u);
    EXPECT_EQ(h.ram(0x60000 + 36, 1)[0], 0xCC);
}

TEST_F(StorvspTransfer, BuffersOutsideGuestMemoryFailTheSrbOnly) {
    const uint64_t outside = Harness::kRamBytes / 4096 + 10;
    uint64_t pages[2] = {Harness::kRamBytes / 4096 - 1, outside}; // second page is not RAM
    vmbus::GpaRange straddling{4096, 2048, pages};
    vmbus::GpaRange beyond{512, 0, {&pages[1], 1}};
    std::fill(disk.storage.begin(), disk.storage.end(), 0x5C);

    auto read = Harness::srb_packet({0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0}, 0, kRead, 4096);
    Reply r = send(read, {&straddling, 1});
    EXPECT_EQ(r.srb.srb_status, 0x06);
    EXPECT_EQ(r.srb.scsi_status, 0);
    EXPECT_EQ(r.srb.data_transfer_length, 0u);
    auto write = Harness::srb_packet({0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 0, kWrite, 512);
    r = send(write, {&beyond, 1});
    EXPECT_EQ(r.srb.srb_status, 0x06);
    EXPECT_EQ(disk.device.writes, 0u); // nothing was read from outside RAM, nothing written
    auto inquiry = Harness::srb_packet({0x12, 0, 0, 0, 36, 0}, 0, kRead, 36);
    r = send(inquiry, {&beyond, 1});
    EXPECT_EQ(r.srb.srb_status, 0x06);
    // The channel and the disk carry on.
    EXPECT_TRUE(h.scsi({0x00, 0, 0, 0, 0, 0}, 0, kNone).good());
    EXPECT_TRUE(h.scsi({0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 0, kRead, {0x1000, 512}).good());
    EXPECT_EQ(h.ram(0x1000, 1)[0], 0x5C);
}

TEST_F(StorvspTransfer, FourKnDisk) {
    MemoryBlockDeviceOptions o;
    o.logical_sector_size = 4096;
    MemoryDisk native(64, o);
    ASSERT_FALSE(h.controller.attach(2, native.device).is_error());
    fill(0x30000, 8192, 0x42);
    ASSERT_TRUE(h.scsi({0x2A, 0, 0, 0, 0, 3, 0, 0, 2, 0}, 2, kWrite, {0x30000, 8192}).good());
    EXPECT_EQ(0, std::memcmp(native.storage.data() + 3 * 4096, h.ram(0x30000, 8192).data(), 8192));
    // 512 bytes is not a 4 KiB sector.
    Reply r = h.scsi({0x28, 0, 0, 0, 0, 3, 0, 0, 1, 0}, 2, kRead, {0x50000, 512});
    EXPECT_TRUE(r.check_condition(5, 0x24, 0));
}

} // namespace
