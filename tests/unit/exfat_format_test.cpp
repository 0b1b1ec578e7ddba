// exFAT: format, mount, the checksums and the packed time format.
#include "exfat_test_support.hpp"

#include "mgmt/datastore/exfat/boot_region.hpp"
#include "mgmt/datastore/exfat/checksum.hpp"
#include "mgmt/datastore/exfat/layout.hpp"
#include "mgmt/datastore/exfat/upcase.hpp"

#include <cstring>

namespace halcyon::exfat::testing {
namespace {

TEST(ExfatChecksum, RecommendedUpcaseTableHasTheSpecChecksum) {
    std::vector<uint8_t> bytes;
    for (uint16_t value : kRecommendedUpcaseTable) {
        bytes.push_back(static_cast<uint8_t>(value & 0xFF));
        bytes.push_back(static_cast<uint8_t>(value >> 8));
    }
    EXPECT_EQ(table_checksum(bytes), kRecommendedUpcaseChecksum);
    EXPECT_EQ(bytes.size(), 5836u);
}

TEST(ExfatUpcase, RecommendedTableMapsCase) {
    vhdx::testing::HeapAllocator allocator;
    UpcaseTable table;
    EXFAT_ASSERT_OK(table.load_recommended(allocator));
    EXPECT_EQ(table.upcase('a'), 'A');
    EXPECT_EQ(table.upcase('z'), 'Z');
    EXPECT_EQ(table.upcase('A'), 'A');
    EXPECT_EQ(table.upcase('{'), '{');
    EXPECT_EQ(table.upcase(0x00E9), 0x00C9); // é -> É
    EXPECT_EQ(table.upcase(0x03B1), 0x0391); // α -> Α
    EXPECT_EQ(table.upcase(0x0430), 0x0410); // а -> А (Cyrillic)
    EXPECT_EQ(table.upcase(0xFF41), 0xFF21); // fullwidth a -> A
    EXPECT_EQ(table.upcase(0xFFFF), 0xFFFF);
}

TEST(ExfatUpcase, RejectsTablesBreakingTheMandatoryRange) {
    vhdx::testing::HeapAllocator allocator;
    UpcaseTable table;
    // Identity for everything: 'a' must map to 'A'.
    uint8_t identity[] = {0xFF, 0xFF, 0x00, 0x00};
    identity[2] = 0x00;
    identity[3] = 0x01; // run of 0x100 identity mappings
    auto result = table.load(allocator, identity);
    ASSERT_TRUE(result.is_error());
    EXPECT_NE(std::strstr(result.error().message(), "mandatory"), nullptr);
    uint8_t odd[] = {1, 2, 3};
    EXPECT_TRUE(table.load(allocator, odd).is_error());
}

TEST(ExfatTime, PacksAndUnpacks) {
    DateTime t{2024, 2, 29, 23, 59, 59, 99, -20, true};
    PackedTime packed = pack_time(t);
    EXPECT_EQ(packed.increment_10ms, 199);
    EXPECT_EQ(packed.utc_offset, 0x80 | (static_cast<uint8_t>(-20) & 0x7F));
    EXPECT_EQ(unpack_time(packed.timestamp, packed.increment_10ms, packed.utc_offset), t);
    DateTime epoch = datetime_from_unix_seconds(0);
    EXPECT_EQ(epoch.year, 1980);                         // clamped to exFAT's range
    DateTime d = datetime_from_unix_seconds(1700000000); // 2023-11-14 22:13:20 UTC
    EXPECT_EQ(d.year, 2023);
    EXPECT_EQ(d.month, 11);
    EXPECT_EQ(d.day, 14);
    EXPECT_EQ(d.hour, 22);
    EXPECT_EQ(d.minute, 13);
    EXPECT_EQ(d.second, 20);
    EXPECT_EQ(unix_seconds_from_datetime(d), 1700000000);
}

TEST(ExfatFormat, FreshVolumeMountsCleanAndEmpty) {
    Fixture fx(16 << 20, 512, FormatOptions{0, "Datastore", 0x12345678, 0});
    auto volume = fx.mount();
    const VolumeInfo& info = volume->info();
    EXPECT_EQ(info.sector_size, 512u);
    EXPECT_EQ(info.cluster_size, 4096u);
    EXPECT_EQ(info.serial, 0x12345678u);
    EXPECT_STREQ(info.label, "Datastore");
    EXPECT_FALSE(info.was_dirty);
    EXPECT_EQ(info.check.leaked_clusters, 0u);
    EXPECT_EQ(info.check.files, 0u);
    EXPECT_GT(info.free_clusters, info.cluster_count - 10);
    EXPECT_TRUE(list(*volume, "/").empty());
    EXFAT_ASSERT_OK(volume->unmount());
}

TEST(ExfatFormat, BootRegionIsValidAndBackedUp) {
    Fixture fx(8 << 20);
    auto& image = fx.device.image();
    auto main = std::span<const uint8_t>(image).first(12 * 512);
    auto backup = std::span<const uint8_t>(image).subspan(12 * 512, 12 * 512);
    auto geometry = parse_boot_region(main, 512, image.size() / 512);
    ASSERT_FALSE(geometry.is_error()) << geometry.error().message();
    EXPECT_TRUE(boot_regions_match(main, backup));
    EXPECT_EQ(geometry.value().volume_sectors, image.size() / 512);
    EXPECT_GE(geometry.value().fat_offset, 24u);
    EXPECT_EQ(geometry.value().heap_offset % 8, 0u); // cluster aligned
}

TEST(ExfatFormat, ClusterSizeFollowsVolumeSize) {
    Fixture small(64 << 20);
    EXPECT_EQ(small.mount()->info().cluster_size, 4096u);
    Fixture medium(300 << 20);
    EXPECT_EQ(medium.mount()->info().cluster_size, 32768u);
    Fixture chosen(32 << 20, 512, FormatOptions{512, "", 0, 0});
    EXPECT_EQ(chosen.mount()->info().cluster_size, 512u);
}

TEST(ExfatFormat, FourKiBSectors) {
    Fixture fx(32 << 20, 4096, FormatOptions{0, "4K", 0, 0});
    auto volume = fx.mount();
    EXPECT_EQ(volume->info().sector_size, 4096u);
    auto data = pattern(1, 100000);
    write_file(*volume, "a.bin", data);
    EXPECT_EQ(read_file(*volume, "A.BIN"), data);
    EXFAT_ASSERT_OK(volume->unmount());
    auto again = fx.mount();
    EXPECT_EQ(read_file(*again, "a.bin"), data);
}

TEST(ExfatFormat, RejectsBadOptions) {
    MemorySectorDevice tiny(512, 1024); // 512 KiB
    vhdx::testing::HeapAllocator allocator;
    FixedClock clock;
    EXPECT_TRUE(format(tiny, allocator, clock).is_error());
    MemorySectorDevice device(512, 32768);
    EXPECT_TRUE(format(device, allocator, clock, FormatOptions{3000, "", 0, 0}).is_error());
    EXPECT_TRUE(
        format(device, allocator, clock, FormatOptions{0, "a label too long", 0, 0}).is_error());
    EXPECT_TRUE(format(device, allocator, clock, FormatOptions{0, "bad:label", 0, 0}).is_error());
}

TEST(ExfatMount, VolumeDirtyWhileWritingClearedOnUnmount) {
    Fixture fx;
    auto volume = fx.mount();
    auto flags = [&] {
        uint16_t value;
        std::memcpy(&value, fx.device.image().data() + layout::kVolumeFlagsOffset, 2);
        return value & layout::kVolumeFlagDirty;
    };
    EXPECT_EQ(flags(), 0);
    File file = must(volume->open("f", OpenMode::read_write, Disposition::create_new));
    EXPECT_NE(flags(), 0);
    must_ok(file.write(0, pattern(2, 5000)));
    EXFAT_ASSERT_OK(volume->sync());
    EXPECT_NE(flags(), 0); // still open for writing
    EXFAT_ASSERT_OK(file.close());
    EXFAT_ASSERT_OK(volume->unmount());
    EXPECT_EQ(flags(), 0);
    auto again = fx.mount();
    EXPECT_FALSE(again->info().was_dirty);
}

TEST(ExfatMount, ReadOnlyMountNeverWrites) {
    Fixture fx;
    {
        auto volume = fx.mount();
        write_file(*volume, "x", pattern(3, 1000));
        EXFAT_ASSERT_OK(volume->unmount());
    }
    std::vector<uint8_t> before = fx.device.image();
    uint64_t writes = fx.device.writes();
    auto volume = fx.mount(MountOptions{true, 8, 16});
    EXPECT_EQ(read_file(*volume, "x"), pattern(3, 1000));
    EXPECT_TRUE(volume->create_directory("d").is_error());
    EXPECT_TRUE(volume->open("x", OpenMode::read_write).is_error());
    EXFAT_ASSERT_OK(volume->unmount());
    EXPECT_EQ(fx.device.writes(), writes);
    EXPECT_EQ(fx.device.image(), before);
}

} // namespace
} // namespace halcyon::exfat::testing
