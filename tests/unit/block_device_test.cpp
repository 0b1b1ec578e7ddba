// The driver-independent part of BlockDevice (argument checks, splitting into device commands,
// read-only, FUA natively or as write + flush, flush semantics, the failed state) and bounce
// buffers.
#include "drivers/block/bounce_buffer.hpp"
#include "tests/unit/block_test_support.hpp"

using namespace halcyon;
using namespace halcyon::test;

namespace {

// A BlockDevice whose "device commands" land in a DiskImage, recorded for inspection.
class TestDisk final : public BlockDevice {
public:
    TestDisk(FakeDmaMemory& dma, uint32_t sector_size, uint64_t sectors)
        : image(sector_size, sectors), dma_(dma) {
        info_.sector_size = sector_size;
        info_.sector_count = sectors;
        info_.max_transfer_sectors = 8;
        info_.volatile_cache = true;
        info_.flush_command = true;
        info_.native_fua = true;
        started_ = true;
    }
    DiskInfo& mutable_info() { return info_; }
    void fail() { failed_ = true; }

    struct Command {
        bool write;
        uint64_t lba;
        uint32_t count;
        uint64_t address;
        bool fua;
    };
    std::vector<Command> commands;
    int flushes = 0;
    DiskImage image;

private:
    ErrorOr<void> transfer(bool write, uint64_t lba, uint32_t count, uint64_t address,
                           bool fua) override {
        commands.push_back({write, lba, count, address, fua});
        uint8_t* memory = dma_.at(address, size_t(count) * info_.sector_size);
        if (write)
            image.write(lba, memory, count, fua);
        else
            image.read(lba, memory, count);
        return {};
    }
    ErrorOr<void> flush_cache() override {
        ++flushes;
        image.flush();
        return {};
    }
    FakeDmaMemory& dma_;
};

TEST(BlockDevice, ChecksRequestsBeforeTheyReachTheDevice) {
    FakeDmaMemory dma;
    TestDisk disk(dma, 512, 100);
    DmaRegion buffer = dma.allocate_dma(4096).value();
    EXPECT_EQ(disk.read(0, 0, buffer).error().code(), ErrorCode::invalid_argument);
    EXPECT_EQ(disk.read(99, 2, buffer).error().code(), ErrorCode::out_of_range);
    EXPECT_EQ(disk.read(~uint64_t(0), 2, buffer).error().code(), ErrorCode::out_of_range)
        << "no wrap-around";
    EXPECT_EQ(disk.read(0, 9, buffer).error().code(), ErrorCode::invalid_argument)
        << "buffer holds 8 sectors";
    EXPECT_EQ(disk.read(0, 1, dma_slice(buffer, 2, 512)).error().code(),
              ErrorCode::invalid_argument)
        << "not 4-byte aligned";
    EXPECT_TRUE(disk.commands.empty());
    EXPECT_FALSE(disk.read(92, 8, buffer).is_error()) << "the last sectors";
}

TEST(BlockDevice, SplitsAtTheTransferLimitWithAdvancingAddresses) {
    FakeDmaMemory dma;
    TestDisk disk(dma, 512, 100);
    DmaRegion buffer = dma.allocate_dma(20 * 512).value();
    ASSERT_FALSE(disk.write(10, 20, buffer).is_error());
    ASSERT_EQ(disk.commands.size(), 3u);
    EXPECT_EQ(disk.commands[0].lba, 10u);
    EXPECT_EQ(disk.commands[0].count, 8u);
    EXPECT_EQ(disk.commands[1].lba, 18u);
    EXPECT_EQ(disk.commands[1].address, buffer.device_address + 8 * 512);
    EXPECT_EQ(disk.commands[2].count, 4u);
    EXPECT_EQ(disk.commands[2].address, buffer.device_address + 16 * 512);
}

TEST(BlockDevice, FuaIsNativeOrAWriteFollowedByAFlush) {
    FakeDmaMemory dma;
    TestDisk disk(dma, 512, 100);
    DmaRegion buffer = dma.allocate_dma(16 * 512).value();
    ASSERT_FALSE(disk.write(0, 16, buffer, WriteMode::fua).is_error());
    EXPECT_TRUE(disk.commands[0].fua && disk.commands[1].fua) << "every piece carries FUA";
    EXPECT_EQ(disk.flushes, 0);
    disk.mutable_info().native_fua = false;
    disk.commands.clear();
    ASSERT_FALSE(disk.write(0, 16, buffer, WriteMode::fua).is_error());
    EXPECT_FALSE(disk.commands[0].fua);
    EXPECT_EQ(disk.flushes, 1) << "one flush after all the pieces";
    EXPECT_EQ(disk.image.cached_sectors(), 0u);
}

TEST(BlockDevice, FlushNeverClaimsDurabilityTheDeviceDidNotGive) {
    FakeDmaMemory dma;
    TestDisk disk(dma, 512, 100);
    ASSERT_FALSE(disk.flush().is_error());
    EXPECT_EQ(disk.flushes, 1);
    disk.mutable_info().flush_command = false;
    disk.mutable_info().volatile_cache = false;
    EXPECT_FALSE(disk.flush().is_error()) << "write-through: nothing to do";
    disk.mutable_info().volatile_cache = true;
    EXPECT_EQ(disk.flush().error().code(), ErrorCode::not_supported);
    DmaRegion buffer = dma.allocate_dma(512).value();
    disk.mutable_info().native_fua = false;
    EXPECT_EQ(disk.write(0, 1, buffer, WriteMode::fua).error().code(), ErrorCode::not_supported)
        << "a FUA write that cannot be made durable fails";
    EXPECT_EQ(disk.flushes, 1);
}

TEST(BlockDevice, ReadOnlyAndFailedDisksRefuse) {
    FakeDmaMemory dma;
    TestDisk disk(dma, 512, 100);
    DmaRegion buffer = dma.allocate_dma(512).value();
    disk.mutable_info().read_only = true;
    EXPECT_EQ(disk.write(0, 1, buffer).error().code(), ErrorCode::permission);
    EXPECT_FALSE(disk.read(0, 1, buffer).is_error());
    disk.fail();
    EXPECT_EQ(disk.read(0, 1, buffer).error().code(), ErrorCode::io);
    EXPECT_EQ(disk.flush().error().code(), ErrorCode::io);
    EXPECT_EQ(disk.commands.size(), 1u);
}

TEST(BlockDevice, CopyTrimmedCleansDeviceStrings) {
    char out[12];
    const uint8_t text[] = {' ', ' ', 'A', 'b', 0x07, 'c', ' ', 0, 0};
    copy_trimmed(out, sizeof out, text, sizeof text);
    EXPECT_STREQ(out, "Ab?c");
    char small[3];
    copy_trimmed(small, sizeof small, text, sizeof text);
    EXPECT_STREQ(small, "Ab");
    const DmaRegion region{nullptr, 0x1000, 100};
    EXPECT_EQ(dma_slice(region, 40, 100).size, 60u);
    EXPECT_EQ(dma_slice(region, 40, 100).device_address, 0x1028u);
    EXPECT_EQ(dma_slice(region, 200, 1).size, 0u);
}

TEST(BounceBuffer, MovesOrdinaryMemoryInChunks) {
    FakeDmaMemory dma;
    TestDisk disk(dma, 512, 200);
    BounceBuffer bounce;
    ASSERT_FALSE(bounce.allocate(dma, 4096).is_error());
    std::vector<uint8_t> data = pattern_bytes(50 * 512, 21);
    ASSERT_FALSE(bounce.write(disk, 30, data).is_error());
    EXPECT_EQ(disk.commands.size(), 7u) << "8-sector chunks (the buffer's 4 KiB)";
    std::vector<uint8_t> back(50 * 512);
    ASSERT_FALSE(bounce.read(disk, 30, back).is_error());
    EXPECT_EQ(back, data);
    std::vector<uint8_t> odd(700);
    EXPECT_EQ(bounce.read(disk, 0, odd).error().code(), ErrorCode::invalid_argument);
    BounceBuffer tiny;
    tiny.adopt(DmaRegion{dma.allocate_dma(4096).value().virt, 0x1'0000'0000ull, 256});
    std::vector<uint8_t> one(512);
    EXPECT_EQ(tiny.read(disk, 0, one).error().code(), ErrorCode::invalid_argument);
}

} // namespace
