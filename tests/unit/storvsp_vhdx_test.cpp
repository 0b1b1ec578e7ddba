// storvsp over real VHDX disks: geometry and identity from the VHDX metadata, data through to
// the file, trim through to the BAT (blocks released), WRITE SAME, resize and read-only opens.
#include "storvsp_test_support.hpp"

#include "vhdx/testing/memory_block_io.hpp"
#include "vmm/vmbus/storvsp/vhdx_block_device.hpp"

#include <cstdio>

using namespace storvsp_test;
using namespace halcyon::vhdx::testing;

namespace {

constexpr uint8_t kRead = 1, kWrite = 0;
constexpr uint64_t MiB = 1024 * 1024;

struct VhdxFixture {
    explicit VhdxFixture(vhdx::CreateOptions options) {
        options.random = &random;
        auto created = vhdx::Disk::create(io, allocator, options);
        EXPECT_FALSE(created.is_error());
        disk = created.value();
    }
    ~VhdxFixture() {
        if (disk != nullptr)
            disk->abandon();
    }
    static vhdx::CreateOptions dynamic(uint64_t size, uint32_t logical = 512,
                                       uint32_t physical = 4096) {
        vhdx::CreateOptions o;
        o.type = vhdx::DiskType::dynamic;
        o.virtual_size = size;
        o.block_size = 1 * MiB;
        o.logical_sector_size = logical;
        o.physical_sector_size = physical;
        return o;
    }
    vhdx::BlockState state(uint64_t block) {
        uint64_t offset = 0;
        auto s = disk->block_state(block, &offset);
        EXPECT_FALSE(s.is_error());
        return s.is_error() ? vhdx::BlockState::undefined : s.value();
    }
    MemoryBlockIo io;
    HeapAllocator allocator;
    SeededRandom random{7};
    vhdx::Disk* disk = nullptr;
};

Reply read_capacity16(Harness& h, uint8_t lun = 0) {
    return h.scsi({0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0}, lun, kRead,
                  {0x8000, 32});
}

TEST(StorvspVhdx, GeometryAndIdentityFromTheMetadata) {
    VhdxFixture f(VhdxFixture::dynamic(16 * MiB));
    storvsp::VhdxBlockDevice device(*f.disk);
    EXPECT_EQ(device.logical_sector_size(), 512u);
    EXPECT_EQ(device.physical_sector_size(), 4096u);
    EXPECT_EQ(device.sector_count(), 16 * MiB / 512);
    EXPECT_EQ(device.unmap_granularity(), MiB / 512);
    EXPECT_FALSE(device.read_only());
    const vhdx::Guid id = f.disk->info().disk_id;
    EXPECT_EQ(0, std::memcmp(device.disk_id().bytes, &id, 16));
    char text[37];
    id.format(text);
    EXPECT_EQ(device.serial(), std::string_view(text, 36));

    Harness h;
    ASSERT_FALSE(h.controller.attach(0, device).is_error());
    h.initialize();
    ASSERT_TRUE(read_capacity16(h).good());
    auto d = h.ram(0x8000, 32);
    EXPECT_EQ(d[6], 0x7F); // last LBA 32767
    EXPECT_EQ(d[7], 0xFF);
    EXPECT_EQ(d[10], 0x02);
    EXPECT_EQ(d[13], 3); // 512e
    EXPECT_EQ(d[14], 0xC0);
    // VPD 83h carries the VHDX disk id.
    ASSERT_TRUE(h.scsi({0x12, 1, 0x83, 0, 255, 0}, 0, kRead, {0x9000, 255}).good());
    char hex[33];
    for (int i = 0; i < 16; ++i)
        std::snprintf(hex + 2 * i, 3, "%02X", reinterpret_cast<const uint8_t*>(&id)[i]);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(h.ram(0x9000 + 28, 32).data()), 32),
              std::string(hex, 32));
}

TEST(StorvspVhdx, NativeFourKAndFixedDisks) {
    VhdxFixture native(VhdxFixture::dynamic(8 * MiB, 4096, 4096));
    storvsp::VhdxBlockDevice device(*native.disk);
    EXPECT_EQ(device.logical_sector_size(), 4096u);
    auto fixed_options = VhdxFixture::dynamic(4 * MiB);
    fixed_options.type = vhdx::DiskType::fixed;
    VhdxFixture fixed(fixed_options);
    storvsp::VhdxBlockDevice fixed_device(*fixed.disk);
    EXPECT_EQ(fixed_device.unmap_granularity(), 0u);

    Harness h;
    ASSERT_FALSE(h.controller.attach(0, device).is_error());
    ASSERT_FALSE(h.controller.attach(1, fixed_device).is_error());
    h.initialize();
    ASSERT_TRUE(read_capacity16(h).good());
    auto d = h.ram(0x8000, 32);
    EXPECT_EQ(d[7], 0xFF); // 2048 blocks of 4 KiB
    EXPECT_EQ(d[6], 0x07);
    EXPECT_EQ(d[10], 0x10);
    EXPECT_EQ(d[13], 0);
    ASSERT_TRUE(read_capacity16(h, 1).good());
    EXPECT_EQ(h.ram(0x8000 + 14, 1)[0], 0); // fixed: fully provisioned, no LBPME
    // UNMAP is not offered for a fixed disk.
    EXPECT_TRUE(h.scsi({0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0}, 1, kWrite, {0xA000, 24})
                    .check_condition(5, 0x20, 0));
    // Data round trip through the 4Kn disk.
    auto src = h.ram(0x10000, 8192);
    for (size_t i = 0; i < src.size(); ++i)
        src[i] = static_cast<uint8_t>(i * 3);
    ASSERT_TRUE(h.scsi({0x2A, 0, 0, 0, 0, 5, 0, 0, 2, 0}, 0, kWrite, {0x10000, 8192}).good());
    ASSERT_TRUE(h.scsi({0x28, 0, 0, 0, 0, 5, 0, 0, 2, 0}, 0, kRead, {0x20000, 8192}).good());
    EXPECT_EQ(0, std::memcmp(h.ram(0x20000, 8192).data(), src.data(), 8192));
}

// Writes `bytes` of a pattern at `lba` through WRITE(16), in 256 KiB requests.
void write_pattern(Harness& h, uint64_t lba, uint64_t bytes) {
    for (uint64_t done = 0; done < bytes;) {
        uint32_t chunk = static_cast<uint32_t>(std::min<uint64_t>(bytes - done, 256 * 1024));
        auto buffer = h.ram(0x100000, chunk);
        for (uint32_t i = 0; i < chunk; ++i)
            buffer[i] = static_cast<uint8_t>(1 + ((done + i) % 251));
        uint64_t at = lba + done / 512;
        uint32_t count = chunk / 512;
        Reply r = h.scsi({0x8A, 0, 0, 0, 0, 0, 0, static_cast<uint8_t>(at >> 16),
                          static_cast<uint8_t>(at >> 8), static_cast<uint8_t>(at),
                          static_cast<uint8_t>(count >> 24), static_cast<uint8_t>(count >> 16),
                          static_cast<uint8_t>(count >> 8), static_cast<uint8_t>(count), 0, 0},
                         0, kWrite, {0x100000, chunk});
        ASSERT_TRUE(r.good());
        done += chunk;
    }
}

bool reads_zero(Harness& h, uint64_t lba, uint32_t sectors) {
    uint32_t bytes = sectors * 512;
    Reply r = h.scsi({0x28, 0, static_cast<uint8_t>(lba >> 24), static_cast<uint8_t>(lba >> 16),
                      static_cast<uint8_t>(lba >> 8), static_cast<uint8_t>(lba), 0,
                      static_cast<uint8_t>(sectors >> 8), static_cast<uint8_t>(sectors), 0},
                     0, kRead, {0x200000, bytes});
    EXPECT_TRUE(r.good());
    auto data = h.ram(0x200000, bytes);
    return std::all_of(data.begin(), data.end(), [](uint8_t b) { return b == 0; });
}

TEST(StorvspVhdx, TrimReleasesWholeBlocks) {
    VhdxFixture f(VhdxFixture::dynamic(16 * MiB));
    storvsp::VhdxBlockDevice device(*f.disk);
    Harness h;
    ASSERT_FALSE(h.controller.attach(0, device).is_error());
    h.initialize();
    write_pattern(h, 0, 4 * MiB);
    for (uint64_t b = 0; b < 4; ++b)
        EXPECT_EQ(f.state(b), vhdx::BlockState::fully_present);
    EXPECT_EQ(f.disk->info().blocks.fully_present, 4u);

    // sd's UNMAP for 2.5 MiB starting 0.5 MiB in: blocks 1 and 2 whole, block 0 half.
    uint8_t* list = h.ram(0xA000, 24).data();
    std::memset(list, 0, 24);
    list[1] = 22;
    list[3] = 16;
    list[8 + 6] = 0x04;     // LBA 1024
    list[8 + 8 + 2] = 0x14; // 5120 sectors
    ASSERT_TRUE(h.scsi({0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0}, 0, kWrite, {0xA000, 24}).good());
    EXPECT_EQ(f.state(0), vhdx::BlockState::fully_present); // partial: kept
    EXPECT_EQ(f.state(1), vhdx::BlockState::unmapped);
    EXPECT_EQ(f.state(2), vhdx::BlockState::unmapped);
    EXPECT_EQ(f.state(3), vhdx::BlockState::fully_present);
    EXPECT_EQ(f.disk->info().blocks.fully_present, 2u);
    EXPECT_TRUE(reads_zero(h, 2048, 256));
    EXPECT_FALSE(reads_zero(h, 1024, 8)); // the partial block keeps its data (a hint)
    EXPECT_FALSE(reads_zero(h, 3 * 2048, 8));
}

// The allocation count the VM worker logs (trim reports): exact after writes, UNMAP, WRITE SAME
// with and without UNMAP and resize, always equal to the BAT's own count.
TEST(StorvspVhdx, AllocatedBlocksAndTrimReports) {
    VhdxFixture f(VhdxFixture::dynamic(16 * MiB));
    storvsp::VhdxBlockDevice device(*f.disk);
    auto bat_count = [&] {
        const vhdx::BlockStateCounts c = f.disk->info().blocks;
        return c.fully_present + c.partially_present;
    };
    EXPECT_EQ(device.payload_blocks(), 16u);
    EXPECT_EQ(device.allocated_blocks(), 0u);
    EXPECT_EQ(device.take_trim_report().trims, 0u);
    Harness h;
    ASSERT_FALSE(h.controller.attach(0, device).is_error());
    h.initialize();
    write_pattern(h, 0, 4 * MiB + 512); // blocks 0..4 (the last one sector)
    EXPECT_EQ(device.allocated_blocks(), 5u);
    EXPECT_EQ(device.allocated_blocks(), bat_count());
    EXPECT_EQ(device.take_trim_report().trims, 0u); // writes are not trims

    // UNMAP of blocks 1 and 2 (and half of 3: kept), then of block 4.
    uint8_t* list = h.ram(0xA000, 40).data();
    std::memset(list, 0, 40);
    list[1] = 38;
    list[3] = 32;
    list[8 + 6] = 0x08;      // LBA 2048
    list[8 + 8 + 2] = 0x14;  // 5120 sectors
    list[24 + 6] = 0x20;     // LBA 8192
    list[24 + 8 + 2] = 0x08; // 2048 sectors
    ASSERT_TRUE(h.scsi({0x42, 0, 0, 0, 0, 0, 0, 0, 40, 0}, 0, kWrite, {0xA000, 40}).good());
    EXPECT_EQ(device.allocated_blocks(), 2u);
    EXPECT_EQ(device.allocated_blocks(), bat_count());
    storvsp::VhdxBlockDevice::TrimReport report = device.take_trim_report();
    EXPECT_EQ(report.trims, 2u);
    EXPECT_EQ(report.before, 5u);
    EXPECT_EQ(report.after, 2u);
    EXPECT_EQ(device.take_trim_report().trims, 0u); // taken

    // WRITE SAME(16) with UNMAP over blocks 0..3: block 0 and 3 released, nothing left.
    std::memset(h.ram(0xB000, 512).data(), 0, 512);
    ASSERT_TRUE(h.scsi({0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0x00, 0, 0}, 0, kWrite,
                       {0xB000, 512})
                    .good());
    EXPECT_EQ(device.allocated_blocks(), 0u);
    report = device.take_trim_report();
    EXPECT_EQ(report.trims, 1u);
    EXPECT_EQ(report.before, 2u);
    EXPECT_EQ(report.after, 0u);

    // WRITE SAME of a pattern allocates like a write; a resize recounts.
    std::memset(h.ram(0xB000, 512).data(), 0xAB, 512);
    ASSERT_TRUE(
        h.scsi({0x41, 0, 0, 0, 0x40, 0x00, 0, 0x10, 0x00, 0}, 0, kWrite, {0xB000, 512}).good());
    EXPECT_EQ(device.allocated_blocks(), 2u); // 0x4000 + 0x1000 sectors: blocks 8 and 9
    EXPECT_EQ(device.allocated_blocks(), bat_count());
    EXPECT_EQ(device.take_trim_report().trims, 0u);
    ASSERT_FALSE(h.controller.resize(0, 32 * MiB).is_error());
    EXPECT_EQ(device.payload_blocks(), 32u);
    EXPECT_EQ(device.allocated_blocks(), 2u);
}

TEST(StorvspVhdx, WriteSameZeroesWithAndWithoutUnmap) {
    VhdxFixture f(VhdxFixture::dynamic(16 * MiB));
    storvsp::VhdxBlockDevice device(*f.disk);
    Harness h;
    ASSERT_FALSE(h.controller.attach(0, device).is_error());
    h.initialize();
    write_pattern(h, 0, 3 * MiB);
    std::memset(h.ram(0xB000, 512).data(), 0, 512);
    // WRITE SAME(16) UNMAP of zeros over 1.5 blocks from 0.5 MiB: block 1 released, the second
    // half of block 0 written with zeros.
    Reply r = h.scsi({0x93, 0x08, 0, 0, 0, 0, 0, 0, 0x04, 0x00, 0, 0, 0x0C, 0x00, 0, 0}, 0, kWrite,
                     {0xB000, 512});
    ASSERT_TRUE(r.good());
    EXPECT_EQ(f.state(0), vhdx::BlockState::fully_present);
    EXPECT_EQ(f.state(1), vhdx::BlockState::unmapped);
    EXPECT_EQ(f.state(2), vhdx::BlockState::fully_present);
    EXPECT_TRUE(reads_zero(h, 1024, 256));
    EXPECT_TRUE(reads_zero(h, 1792, 256));
    EXPECT_FALSE(reads_zero(h, 1016, 8));
    // Zeros without UNMAP over unallocated space allocate nothing.
    r = h.scsi({0x93, 0x01, 0, 0, 0, 0, 0, 0, 0x30, 0x00, 0, 0, 0x10, 0x00, 0, 0}, 0, kWrite);
    ASSERT_TRUE(r.good()); // NDOB: no data-out buffer
    EXPECT_EQ(f.state(6), vhdx::BlockState::not_present);
    // A non-zero pattern is written everywhere.
    std::memset(h.ram(0xB000, 512).data(), 0xAB, 512);
    r = h.scsi({0x41, 0, 0, 0, 0x40, 0x00, 0, 0x10, 0x00, 0}, 0, kWrite, {0xB000, 512});
    ASSERT_TRUE(r.good());
    ASSERT_TRUE(h.scsi({0x28, 0, 0, 0, 0x4F, 0xFF, 0, 0, 1, 0}, 0, kRead, {0xC000, 512}).good());
    EXPECT_EQ(h.ram(0xC000, 512)[511], 0xAB);
}

TEST(StorvspVhdx, OnlineResizeGrowsTheVhdx) {
    VhdxFixture f(VhdxFixture::dynamic(8 * MiB));
    storvsp::VhdxBlockDevice device(*f.disk);
    Harness h;
    ASSERT_FALSE(h.controller.attach(0, device).is_error());
    h.initialize();
    ASSERT_FALSE(h.controller.resize(0, 24 * MiB).is_error());
    EXPECT_EQ(f.disk->info().virtual_size, 24 * MiB);
    EXPECT_EQ(device.sector_count(), 24 * MiB / 512);
    EXPECT_TRUE(h.scsi({0x00, 0, 0, 0, 0, 0}, 0, 2).check_condition(6, 0x2A, 0x09));
    ASSERT_TRUE(read_capacity16(h).good());
    EXPECT_EQ(h.ram(0x8000 + 6, 1)[0], 0xBF); // last LBA 49151
    write_pattern(h, 20 * MiB / 512, MiB);
    EXPECT_EQ(f.state(20), vhdx::BlockState::fully_present);
}

TEST(StorvspVhdx, FlushReachesTheFileAndReadOnlyOpensRefuseWrites) {
    VhdxFixture f(VhdxFixture::dynamic(8 * MiB));
    {
        storvsp::VhdxBlockDevice device(*f.disk);
        Harness h;
        ASSERT_FALSE(h.controller.attach(0, device).is_error());
        h.initialize();
        write_pattern(h, 0, 64 * 1024);
        uint64_t flushes = f.io.flushes();
        ASSERT_TRUE(h.scsi({0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0, 2).good());
        EXPECT_GT(f.io.flushes(), flushes);
    }
    ASSERT_FALSE(f.disk->close().is_error());
    f.disk = nullptr;
    vhdx::OpenOptions open;
    open.read_only = true;
    auto reopened = vhdx::Disk::open(f.io, f.allocator, open);
    ASSERT_FALSE(reopened.is_error());
    f.disk = reopened.value();
    storvsp::VhdxBlockDevice device(*f.disk);
    EXPECT_TRUE(device.read_only());
    Harness h;
    ASSERT_FALSE(h.controller.attach(0, device).is_error());
    h.initialize();
    // The data written before is there; writes are refused as write-protected.
    ASSERT_TRUE(h.scsi({0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 0, kRead, {0x1000, 512}).good());
    EXPECT_EQ(h.ram(0x1000, 1)[0], 1);
    EXPECT_TRUE(h.scsi({0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 0, kWrite, {0x1000, 512})
                    .check_condition(7, 0x27, 0));
    EXPECT_TRUE(h.controller.resize(0, 16 * MiB).is_error());
}

} // namespace
