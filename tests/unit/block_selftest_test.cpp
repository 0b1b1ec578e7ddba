// The boot-time storage self-test (only scratch-marked disks are written; the pattern lands in
// the last MiB, durable; bad read-back is caught) and the probe's report lines.
#include "drivers/block/probe.hpp"
#include "drivers/block/selftest.hpp"
#include "tests/unit/block_nvme_fake.hpp"
#include "tests/unit/block_virtio_fake.hpp"

using namespace halcyon;
using namespace halcyon::test;

namespace {

struct Rig {
    explicit Rig(uint32_t lba_shift = 9, uint64_t blocks = 8192)
        : device(dma, clock, lba_shift, blocks) {
        EXPECT_FALSE(driver.start(device, dma, clock).is_error());
        buffer = dma.allocate_dma(kSelftestBytes).value();
    }
    void mark_scratch() {
        std::vector<uint8_t> sector(device.disk.sector_size(), 0);
        std::memcpy(sector.data(), kScratchMarker, kScratchMarkerLength);
        device.disk.write(0, sector.data(), 1, true);
    }
    FakeDmaMemory dma;
    FakeClock clock;
    FakeNvme device;
    Nvme driver;
    DmaRegion buffer;
};

TEST(StorageSelftest, LeavesUnmarkedDisksAlone) {
    Rig rig;
    const std::vector<uint8_t> before = rig.device.disk.contents();
    auto outcome = run_selftest(rig.driver, rig.buffer);
    ASSERT_FALSE(outcome.is_error());
    EXPECT_FALSE(outcome.value().ran);
    EXPECT_EQ(rig.device.io_commands(nvme::kIoWrite), 0u);
    EXPECT_EQ(rig.device.disk.contents(), before);
}

TEST(StorageSelftest, WritesThePatternDurablyToTheLastMiB) {
    for (uint32_t shift : {9u, 12u}) {
        Rig rig(shift, (8u << 20) >> shift); // 8 MiB
        rig.mark_scratch();
        auto outcome = run_selftest(rig.driver, rig.buffer);
        ASSERT_FALSE(outcome.is_error()) << outcome.error().message();
        ASSERT_TRUE(outcome.value().ran);
        const uint64_t sector_size = 1u << shift;
        EXPECT_EQ(outcome.value().sectors, kSelftestBytes / sector_size);
        EXPECT_EQ(outcome.value().first_sector * sector_size, (8u << 20) - kSelftestBytes);
        EXPECT_EQ(rig.device.disk.cached_sectors(), 0u) << "flushed";
        const std::vector<uint8_t>& durable = rig.device.disk.durable();
        for (uint64_t offset = (7u << 20); offset < (8u << 20); offset += 8) {
            uint64_t word;
            std::memcpy(&word, durable.data() + offset, 8);
            ASSERT_EQ(word, selftest_word(offset)) << "at " << offset;
        }
        EXPECT_EQ(std::memcmp(durable.data(), kScratchMarker, kScratchMarkerLength), 0)
            << "the marker is not overwritten";
        // Nothing between the marker sector and the last MiB was touched.
        for (uint64_t offset = sector_size; offset < (7u << 20); ++offset)
            ASSERT_EQ(durable[offset], 0) << "at " << offset;
        bool fua_seen = false;
        for (const auto& command : rig.device.commands)
            fua_seen |= (command.entry.cdw12 & nvme::kCdw12ForceUnitAccess) != 0;
        EXPECT_TRUE(fua_seen) << "the first half is written with FUA";
        EXPECT_EQ(rig.device.io_commands(nvme::kIoFlush), 1u);
    }
}

TEST(StorageSelftest, CatchesADeviceThatDropsWrites) {
    Rig rig;
    rig.mark_scratch();
    // The next write "succeeds" without storing anything: the read-back must notice.
    rig.device.fail_io[nvme::kIoWrite] = 0;
    auto outcome = run_selftest(rig.driver, rig.buffer);
    ASSERT_TRUE(outcome.is_error());
    EXPECT_EQ(outcome.error().code(), ErrorCode::corrupt);
    // A healthy run afterwards passes.
    EXPECT_FALSE(run_selftest(rig.driver, rig.buffer).is_error());
}

TEST(StorageSelftest, RefusesDisksTooSmallOrReadOnly) {
    {
        Rig rig(9, 3000); // 1.5 MiB
        rig.mark_scratch();
        EXPECT_EQ(run_selftest(rig.driver, rig.buffer).error().code(), ErrorCode::out_of_range);
    }
    {
        FakeDmaMemory dma;
        FakeClock clock;
        FakeNvme device(dma, clock, 9, 8192);
        device.write_protected = true;
        std::vector<uint8_t> sector(512, 0);
        std::memcpy(sector.data(), kScratchMarker, kScratchMarkerLength);
        device.disk.write(0, sector.data(), 1, true);
        Nvme driver;
        ASSERT_FALSE(driver.start(device, dma, clock).is_error());
        EXPECT_EQ(run_selftest(driver, dma.allocate_dma(kSelftestBytes).value()).error().code(),
                  ErrorCode::permission);
    }
}

TEST(ProbeReport, DiskLinesNameTheDeviceAndItsDurability) {
    Rig rig(9, 262144);
    DiskEntry entry;
    entry.device = &rig.driver;
    entry.address = {0, 4, 0};
    char line[256];
    format_disk_line(entry, line, sizeof line);
    EXPECT_STREQ(line, "disk nvme 00:04.0: 262144 sectors of 512 bytes (128 MiB), model "
                       "\"HALCYON FAKE NVME\", serial \"FAKE-0001\", flush yes, fua yes");
    char name[32];
    format_disk_name(Kind::ahci, {0, 0x1f, 2}, 3, name, sizeof name);
    EXPECT_STREQ(name, "ahci 00:1f.2 port 3");
}

TEST(ProbeReport, WriteThroughAndReadOnlyDevicesSaySo) {
    FakeDmaMemory dma;
    FakeClock clock;
    FakeVirtioBlk device(dma, clock, 4096, 256);
    device.offered &= ~vb::kFeatureFlush;
    device.offered |= vb::kFeatureReadOnly;
    VirtioBlk driver;
    ASSERT_FALSE(driver.start(device, dma, clock).is_error());
    DiskEntry entry;
    entry.device = &driver;
    entry.address = {0, 3, 0};
    char line[256];
    format_disk_line(entry, line, sizeof line);
    EXPECT_STREQ(line, "disk virtio-blk 00:03.0: 256 sectors of 4096 bytes (1 MiB), model "
                       "\"virtio-blk\", serial \"vblk-serial-0042\", flush no (write-through), "
                       "fua no (write + flush), read-only");
}

} // namespace
