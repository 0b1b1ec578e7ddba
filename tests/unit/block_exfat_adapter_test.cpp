// The datastore's adapter (drivers/block/exfat_sector_device.hpp): a real exFAT volume made,
// filled and unmounted through ExfatSectorDevice over the virtio-blk driver and its fake device;
// what the device holds durably afterwards mounts and reads back intact.
#include "drivers/block/bounce_buffer.hpp"
#include "drivers/block/exfat_sector_device.hpp"
#include "mgmt/datastore/exfat/format.hpp"
#include "mgmt/datastore/exfat/testing/memory_sector_device.hpp"
#include "mgmt/datastore/exfat/volume.hpp"
#include "tests/unit/block_virtio_fake.hpp"
#include "vhdx/testing/memory_block_io.hpp"

using namespace halcyon;
using namespace halcyon::test;

namespace {

TEST(ExfatSectorDevice, CarriesAnExfatVolumeOverVirtioBlk) {
    FakeDmaMemory dma;
    FakeClock clock;
    FakeVirtioBlk device(dma, clock, 512, 64 * 2048); // 64 MiB
    VirtioBlk driver;
    ASSERT_FALSE(driver.start(device, dma, clock).is_error());
    BounceBuffer bounce;
    ASSERT_FALSE(bounce.allocate(dma, 64 * 1024).is_error());
    ExfatSectorDevice sectors(driver, bounce);
    EXPECT_EQ(sectors.sector_size(), 512u);
    EXPECT_EQ(sectors.sector_count(), 64u * 2048);

    vhdx::testing::HeapAllocator allocator;
    exfat::testing::FixedClock fs_clock;
    auto formatted = exfat::format(sectors, allocator, fs_clock);
    ASSERT_FALSE(formatted.is_error()) << formatted.error().message();
    const std::vector<uint8_t> content = pattern_bytes(300 * 1024 + 17, 99);
    {
        exfat::Volume volume(sectors, allocator, fs_clock);
        ASSERT_FALSE(volume.mount().is_error());
        auto file =
            volume.open("disk.vhdx", exfat::OpenMode::read_write, exfat::Disposition::create_new);
        ASSERT_FALSE(file.is_error()) << file.error().message();
        ASSERT_FALSE(file.value().write(0, content).is_error());
        ASSERT_FALSE(file.value().close().is_error());
        ASSERT_FALSE(volume.unmount().is_error());
    }
    EXPECT_GT(device.disk.flushes, 0) << "the volume's barriers reached the device";
    EXPECT_EQ(device.disk.cached_sectors(), 0u) << "a clean unmount leaves nothing volatile";

    // What survives a power cut now is a complete volume with the file.
    exfat::testing::MemorySectorDevice after_power_cut(512, device.disk.durable());
    exfat::Volume volume(after_power_cut, allocator, fs_clock);
    ASSERT_FALSE(volume.mount().is_error());
    auto file = volume.open("disk.vhdx", exfat::OpenMode::read);
    ASSERT_FALSE(file.is_error());
    std::vector<uint8_t> back(content.size());
    auto read = file.value().read(0, back);
    ASSERT_FALSE(read.is_error());
    EXPECT_EQ(read.value(), content.size());
    EXPECT_EQ(back, content);
}

} // namespace
