// ExtentFile: a VM disk image in memory extents (vmm/worker/storage/extent_file.hpp), checked
// as a BlockIo and under the VHDX library that runs on it.
#include "vhdx/disk.hpp"
#include "vhdx/testing/memory_block_io.hpp"
#include "vmm/worker/storage/extent_file.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <set>
#include <vector>

namespace halcyon::worker::storage {
namespace {

class MallocExtents final : public ExtentSource {
public:
    ~MallocExtents() { EXPECT_TRUE(live.empty()); }
    uint8_t* allocate_extent() override {
        if (budget == 0)
            return nullptr;
        --budget;
        auto* extent = static_cast<uint8_t*>(std::calloc(1, kExtentBytes));
        live.insert(extent);
        return extent;
    }
    void free_extent(uint8_t* extent) override {
        EXPECT_EQ(live.erase(extent), 1u);
        std::free(extent);
    }
    size_t budget = 1000;
    std::set<uint8_t*> live;
};

std::vector<uint8_t> pattern(size_t size, uint8_t seed) {
    std::vector<uint8_t> bytes(size);
    for (size_t i = 0; i < size; ++i)
        bytes[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 12));
    return bytes;
}

TEST(ExtentFile, LoadsAndReadsAcrossExtentBoundaries) {
    MallocExtents source;
    uint8_t* table[4] = {};
    ExtentFile file(source, table, false);
    const auto image = pattern(kExtentBytes + 12345, 3);
    ASSERT_FALSE(file.load(image).is_error());
    EXPECT_EQ(file.extents_in_use(), 2u);
    EXPECT_EQ(file.size().value(), image.size());
    std::vector<uint8_t> out(10000);
    ASSERT_FALSE(file.read(kExtentBytes - 5000, out).is_error());
    EXPECT_EQ(0, std::memcmp(out.data(), image.data() + kExtentBytes - 5000, out.size()));
    EXPECT_TRUE(file.read(image.size() - 10, out).is_error()); // past the end
}

TEST(ExtentFile, WritePastTheEndGrowsWithZeroGap) {
    MallocExtents source;
    uint8_t* table[4] = {};
    ExtentFile file(source, table, false);
    ASSERT_FALSE(file.load(pattern(100, 1)).is_error());
    const auto data = pattern(4096, 9);
    const uint64_t offset = 3 * kExtentBytes - 100; // spans into the fourth extent
    ASSERT_FALSE(file.write(offset, data).is_error());
    EXPECT_EQ(file.size().value(), offset + data.size());
    EXPECT_EQ(file.extents_in_use(), 4u);
    std::vector<uint8_t> gap(4096);
    ASSERT_FALSE(file.read(100, gap).is_error());
    EXPECT_EQ(gap, std::vector<uint8_t>(4096, 0));
    std::vector<uint8_t> back(4096);
    ASSERT_FALSE(file.read(offset, back).is_error());
    EXPECT_EQ(back, data);
}

TEST(ExtentFile, RefusesToGrowBeyondItsLimitAndKeepsItsContents) {
    MallocExtents source;
    uint8_t* table[2] = {};
    ExtentFile file(source, table, false);
    ASSERT_FALSE(file.load(pattern(1000, 5)).is_error());
    const auto data = pattern(10, 1);
    EXPECT_EQ(file.write(2 * kExtentBytes - 5, data).error().code(), ErrorCode::out_of_memory);
    EXPECT_EQ(file.size().value(), 1000u);
    EXPECT_EQ(file.set_size(2 * kExtentBytes + 1).error().code(), ErrorCode::out_of_memory);
    // Out of host memory in the middle of a growth: nothing half-done remains.
    source.budget = 0;
    EXPECT_EQ(file.write(kExtentBytes + 1, data).error().code(), ErrorCode::out_of_memory);
    EXPECT_EQ(file.extents_in_use(), 1u);
    EXPECT_EQ(file.size().value(), 1000u);
}

TEST(ExtentFile, ShrinkThenGrowReadsZeros) {
    MallocExtents source;
    uint8_t* table[4] = {};
    ExtentFile file(source, table, false);
    ASSERT_FALSE(file.load(pattern(3 * kExtentBytes, 2)).is_error());
    ASSERT_FALSE(file.set_size(kExtentBytes + 10).is_error());
    EXPECT_EQ(file.extents_in_use(), 2u);
    ASSERT_FALSE(file.set_size(3 * kExtentBytes).is_error());
    std::vector<uint8_t> out(kExtentBytes);
    ASSERT_FALSE(file.read(kExtentBytes + 10, out).is_error());
    EXPECT_EQ(out, std::vector<uint8_t>(kExtentBytes, 0));
}

TEST(ExtentFile, ReadOnlyRefusesChanges) {
    MallocExtents source;
    uint8_t* table[1] = {};
    ExtentFile file(source, table, true);
    ASSERT_FALSE(file.load(pattern(512, 1)).is_error());
    EXPECT_TRUE(file.read_only());
    EXPECT_EQ(file.write(0, pattern(1, 1)).error().code(), ErrorCode::permission);
    EXPECT_EQ(file.set_size(0).error().code(), ErrorCode::permission);
}

TEST(ExtentFile, CarriesADynamicVhdxThroughGrowth) {
    // A dynamic VHDX created on the host, loaded into extents, written by the library (which
    // grows the file block by block) and read back, then checked byte for byte by reopening.
    vhdx::testing::MemoryBlockIo host_file;
    vhdx::testing::HeapAllocator allocator;
    vhdx::testing::SeededRandom random(7);
    vhdx::CreateOptions options;
    options.virtual_size = 64ull << 20;
    options.type = vhdx::DiskType::dynamic;
    options.random = &random;
    auto created = vhdx::Disk::create(host_file, allocator, options);
    ASSERT_FALSE(created.is_error());
    ASSERT_FALSE(created.value()->close().is_error());

    MallocExtents source;
    uint8_t* table[32] = {};
    ExtentFile file(source, table, false);
    ASSERT_FALSE(file.load(host_file.image()).is_error());
    const uint64_t before = file.size().value();
    vhdx::OpenOptions open_options;
    open_options.random = &random;
    auto disk = vhdx::Disk::open(file, allocator, open_options);
    ASSERT_FALSE(disk.is_error()) << disk.error().message();
    const auto data = pattern(1 << 20, 11);
    ASSERT_FALSE(disk.value()->write(40ull << 20, data).is_error());
    ASSERT_FALSE(disk.value()->flush().is_error());
    ASSERT_FALSE(disk.value()->close().is_error());
    EXPECT_GT(file.size().value(), before);

    auto reopened = vhdx::Disk::open(file, allocator, open_options);
    ASSERT_FALSE(reopened.is_error());
    std::vector<uint8_t> back(data.size());
    ASSERT_FALSE(reopened.value()->read(40ull << 20, back).is_error());
    EXPECT_EQ(back, data);
    ASSERT_FALSE(reopened.value()->close().is_error());
}

} // namespace
} // namespace halcyon::worker::storage
