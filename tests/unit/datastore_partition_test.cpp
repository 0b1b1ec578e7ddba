// Partition tables for the datastore (mgmt/datastore/partition_table.hpp): GPT and MBR are read
// as the specifications lay them out, damaged GPTs are refused, and boot sectors of file systems
// (which also end in 55 AA) are not mistaken for partition tables.
#include "mgmt/datastore/partition_table.hpp"
#include "tests/unit/datastore_test_support.hpp"

#include <gtest/gtest.h>

using namespace halcyon;
using namespace halcyon::datastore;
using namespace halcyon::datastore::testing;

namespace {

constexpr uint64_t kSectors = 65536; // 32 MiB of 512-byte sectors

TEST(DatastorePartitions, Crc32MatchesTheStandardCheckValue) {
    const char* text = "123456789";
    EXPECT_EQ(crc32_ieee({reinterpret_cast<const uint8_t*>(text), 9}), 0xCBF43926u);
    // Incremental use gives the same result as one call.
    const uint32_t first = crc32_ieee({reinterpret_cast<const uint8_t*>(text), 4});
    EXPECT_EQ(crc32_ieee({reinterpret_cast<const uint8_t*>(text) + 4, 5}, first), 0xCBF43926u);
}

TEST(DatastorePartitions, EmptyDiskHasNoTable) {
    MemorySectorDevice device(512, kSectors);
    auto table = read_partition_table(device);
    ASSERT_FALSE(table.is_error());
    EXPECT_EQ(table.value().scheme, PartitionScheme::none);
    EXPECT_EQ(table.value().count, 0u);
}

TEST(DatastorePartitions, ReadsGptEntriesInTableOrder) {
    MemorySectorDevice device(512, kSectors);
    write_gpt(device.image(), {{2048, 4095, 0}, {8192, 65000, 3}});
    auto table = read_partition_table(device);
    ASSERT_FALSE(table.is_error()) << table.error().message();
    EXPECT_EQ(table.value().scheme, PartitionScheme::gpt);
    ASSERT_EQ(table.value().count, 2u);
    EXPECT_EQ(table.value().partitions[0].number, 1u);
    EXPECT_EQ(table.value().partitions[0].first_sector, 2048u);
    EXPECT_EQ(table.value().partitions[0].sector_count, 2048u);
    EXPECT_EQ(table.value().partitions[1].number, 4u);
    EXPECT_EQ(table.value().partitions[1].first_sector, 8192u);
    EXPECT_EQ(table.value().partitions[1].sector_count, 65000u - 8192u + 1);
}

TEST(DatastorePartitions, RefusesDamagedGpt) {
    MemorySectorDevice device(512, kSectors);
    write_gpt(device.image(), {{2048, 4095, 0}}, /*corrupt_entries=*/true);
    auto table = read_partition_table(device);
    ASSERT_TRUE(table.is_error());
    EXPECT_STREQ(table.error().message(), "the GPT partition entry array fails its CRC-32");

    write_gpt(device.image(), {{2048, 4095, 0}});
    device.image()[512 + 40] ^= 1; // FirstUsableLBA: the header CRC no longer matches
    auto header = read_partition_table(device);
    ASSERT_TRUE(header.is_error());
    EXPECT_STREQ(header.error().message(), "the GPT header fails its CRC-32");
}

TEST(DatastorePartitions, RefusesGptPartitionOutsideTheDisk) {
    MemorySectorDevice device(512, kSectors);
    write_gpt(device.image(), {{2048, kSectors + 10, 0}});
    auto table = read_partition_table(device);
    ASSERT_TRUE(table.is_error());
    EXPECT_STREQ(table.error().message(), "a GPT partition lies outside the disk's usable range");
}

TEST(DatastorePartitions, ReadsMbrPrimariesAndSkipsExtended) {
    MemorySectorDevice device(512, kSectors);
    write_mbr(device.image(), {{0x07, 2048, 8192}, {0x0F, 10240, 1000}, {0x83, 20480, 4096}});
    auto table = read_partition_table(device);
    ASSERT_FALSE(table.is_error());
    EXPECT_EQ(table.value().scheme, PartitionScheme::mbr);
    ASSERT_EQ(table.value().count, 2u);
    EXPECT_EQ(table.value().partitions[0].number, 1u);
    EXPECT_EQ(table.value().partitions[0].first_sector, 2048u);
    EXPECT_EQ(table.value().partitions[1].number, 3u);
    EXPECT_EQ(table.value().partitions[1].sector_count, 4096u);
}

TEST(DatastorePartitions, FileSystemBootSectorIsNotAnMbr) {
    MemorySectorDevice device(512, kSectors);
    format_at(device, 0, kSectors, "WHOLE");
    // exFAT's boot sector ends in 55 AA like an MBR; its "entries" are boot code.
    auto table = read_partition_table(device);
    ASSERT_FALSE(table.is_error());
    EXPECT_EQ(table.value().count, 0u);
}

TEST(DatastorePartitions, WindowConfinesAccessToThePartition) {
    MemorySectorDevice device(512, kSectors);
    SectorWindow window(device, 100, 10);
    std::vector<uint8_t> sector(512, 0x5A);
    ASSERT_FALSE(window.write(9, sector).is_error());
    EXPECT_EQ(device.image()[109 * 512], 0x5A);
    EXPECT_TRUE(window.write(10, sector).is_error());
    std::vector<uint8_t> two(1024);
    EXPECT_TRUE(window.read(9, two).is_error());
    EXPECT_EQ(window.sector_count(), 10u);
}

} // namespace
