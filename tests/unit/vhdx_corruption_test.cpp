// Damaged files are rejected with a message naming the structure (or opened from the surviving
// copy where the format keeps two).
#include "vhdx/disk.hpp"
#include "vhdx/format.hpp"
#include "vhdx/testing/memory_block_io.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <string>

using namespace halcyon;
using namespace halcyon::vhdx;
using namespace halcyon::vhdx::testing;

namespace {

struct Fixture {
    HeapAllocator allocator;
    SeededRandom random{3};
    std::vector<uint8_t> image;
    DiskInfo info{};

    Fixture() {
        MemoryBlockIo io;
        CreateOptions options;
        options.random = &random;
        options.virtual_size = 4 * kMiB;
        options.block_size = kMiB;
        Disk* disk = Disk::create(io, allocator, options).release_value();
        std::vector<uint8_t> data(4096, 0x42);
        EXPECT_FALSE(disk->write(kMiB, data).is_error());
        info = disk->info();
        EXPECT_FALSE(disk->close().is_error());
        image = io.image();
    }

    // Opens a damaged copy; returns the error message or "" on success.
    std::string open(const std::vector<uint8_t>& damaged) {
        MemoryBlockIo io(damaged);
        OpenOptions options;
        options.read_only = true;
        auto result = Disk::open(io, allocator, options);
        if (result.is_error())
            return result.error().message();
        std::vector<uint8_t> back(4096);
        EXPECT_FALSE(result.value()->read(kMiB, back).is_error());
        EXPECT_EQ(back[0], 0x42);
        result.value()->abandon();
        return "";
    }
};

} // namespace

TEST(VhdxCorruption, FileIdentifier) {
    Fixture f;
    auto damaged = f.image;
    damaged[0] = 'X';
    EXPECT_EQ(f.open(damaged), "not a VHDX file: file type identifier is not \"vhdxfile\"");
}

TEST(VhdxCorruption, OneHeaderBadIsSurvivedBothBadIsRejected) {
    Fixture f;
    auto damaged = f.image;
    damaged[format::kHeaderOffset[0] + 200] ^= 1;
    EXPECT_EQ(f.open(damaged), "");
    damaged[format::kHeaderOffset[1] + 200] ^= 1;
    EXPECT_EQ(f.open(damaged), "no valid header: header 1: bad CRC-32C, header 2: bad CRC-32C");
}

TEST(VhdxCorruption, RegionTables) {
    Fixture f;
    auto damaged = f.image;
    damaged[format::kRegionTableOffset[0] + 40] ^= 1;
    EXPECT_EQ(f.open(damaged), "");
    damaged[format::kRegionTableOffset[1] + 40] ^= 1;
    EXPECT_EQ(f.open(damaged), "region table 1: bad CRC-32C");
}

TEST(VhdxCorruption, MetadataTable) {
    Fixture f;
    auto damaged = f.image;
    damaged[f.info.metadata_offset] = 'X';
    EXPECT_EQ(f.open(damaged), "metadata: table signature is not \"metadata\"");
    damaged = f.image;
    // Point the first item (file parameters) past the region.
    uint32_t bad_offset = 2 * 1024 * 1024;
    std::memcpy(damaged.data() + f.info.metadata_offset + 32 + 16, &bad_offset, 4);
    EXPECT_EQ(f.open(damaged), "metadata: item lies outside the metadata region");
}

TEST(VhdxCorruption, BadBlockSizeInFileParameters) {
    Fixture f;
    auto damaged = f.image;
    uint32_t offset;
    std::memcpy(&offset, damaged.data() + f.info.metadata_offset + 32 + 16, 4);
    uint32_t bad_block = 3 * 1024 * 1024;
    std::memcpy(damaged.data() + f.info.metadata_offset + offset, &bad_block, 4);
    EXPECT_EQ(f.open(damaged),
              "metadata: block size is not a power of two between 1 MiB and 256 MiB");
}

TEST(VhdxCorruption, BatEntries) {
    Fixture f;
    auto damaged = f.image;
    uint64_t entry = (uint64_t(4096) << 20) | 6; // fully present at 4 GiB: past the end
    std::memcpy(damaged.data() + f.info.bat_offset, &entry, 8);
    EXPECT_EQ(f.open(damaged), "BAT: block lies past the end of the file");
    entry = (uint64_t(1) << 20) | 6; // at 1 MiB: on top of the log
    std::memcpy(damaged.data() + f.info.bat_offset, &entry, 8);
    EXPECT_EQ(f.open(damaged), "BAT: block overlaps the log, metadata or BAT");
    entry = 5; // state 5 does not exist
    std::memcpy(damaged.data() + f.info.bat_offset, &entry, 8);
    EXPECT_EQ(f.open(damaged), "BAT: payload entry has an invalid state");
    entry = 7; // partially present without a parent
    std::memcpy(damaged.data() + f.info.bat_offset, &entry, 8);
    EXPECT_EQ(f.open(damaged), "BAT: partially present block in a disk without a parent");
}

TEST(VhdxCorruption, TruncatedFiles) {
    Fixture f;
    for (size_t size : {size_t(0), size_t(4), size_t(70000), size_t(200000), size_t(1 << 20)}) {
        std::vector<uint8_t> truncated(f.image.begin(), f.image.begin() + size);
        EXPECT_NE(f.open(truncated), "") << size;
    }
}
