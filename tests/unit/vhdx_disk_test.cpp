// Round trips and data integrity of the VHDX library over an in-memory BlockIo.
#include "vhdx/disk.hpp"
#include "vhdx/testing/memory_block_io.hpp"
#include "vhdx/testing/memory_resolver.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <random>
#include <string>

using namespace halcyon;
using namespace halcyon::vhdx;
using namespace halcyon::vhdx::testing;

namespace {

template <typename T>
T must(ErrorOr<T>&& result) {
    EXPECT_FALSE(result.is_error()) << (result.is_error() ? result.error().message() : "");
    if (result.is_error())
        abort();
    return result.release_value();
}
void must(ErrorOr<void>&& result) {
    ASSERT_FALSE(result.is_error()) << (result.is_error() ? result.error().message() : "");
}

struct Harness {
    HeapAllocator allocator;
    SeededRandom random{7};
    MemoryResolver resolver;

    Disk* create(MemoryBlockIo& io, CreateOptions options) {
        options.random = &random;
        options.parent_resolver = &resolver;
        return must(Disk::create(io, allocator, options));
    }
    Disk* open(MemoryBlockIo& io, bool read_only = false) {
        OpenOptions options;
        options.read_only = read_only;
        options.random = &random;
        options.parent_resolver = &resolver;
        return must(Disk::open(io, allocator, options));
    }
};

// Random sector-aligned writes mirrored into a model; the disk must match after each step.
void random_writes(Disk* disk, std::vector<uint8_t>& model, uint32_t sector, int count,
                   uint64_t seed, uint64_t max_sectors = 600) {
    std::mt19937_64 engine(seed);
    uint64_t sectors = model.size() / sector;
    for (int i = 0; i < count; ++i) {
        uint64_t first = engine() % sectors;
        uint64_t n = 1 + engine() % max_sectors;
        if (first + n > sectors)
            n = sectors - first;
        std::vector<uint8_t> data(n * sector);
        for (auto& b : data)
            b = static_cast<uint8_t>(engine());
        must(disk->write(first * sector, data));
        std::memcpy(model.data() + first * sector, data.data(), data.size());
    }
}

void expect_contents(Disk* disk, const std::vector<uint8_t>& model) {
    std::vector<uint8_t> actual(model.size());
    must(disk->read(0, actual));
    ASSERT_TRUE(actual == model);
}

} // namespace

struct KindParam {
    DiskType type;
    uint32_t logical;
    uint32_t physical;
    uint32_t block_mib;
};

class VhdxRoundTrip : public ::testing::TestWithParam<KindParam> {};

TEST_P(VhdxRoundTrip, CreateWriteCloseReopenRead) {
    const KindParam p = GetParam();
    Harness h;
    MemoryBlockIo io;
    CreateOptions options;
    options.type = p.type;
    options.virtual_size = 24 * kMiB + 7 * p.logical; // a partial last block
    options.block_size = p.block_mib * static_cast<uint32_t>(kMiB);
    options.logical_sector_size = p.logical;
    options.physical_sector_size = p.physical;
    Disk* disk = h.create(io, options);
    DiskInfo info = disk->info();
    EXPECT_EQ(info.type, p.type);
    EXPECT_EQ(info.virtual_size, options.virtual_size);
    EXPECT_EQ(info.logical_sector_size, p.logical);
    EXPECT_EQ(info.physical_sector_size, p.physical);
    EXPECT_EQ(info.block_size, options.block_size);
    if (p.type == DiskType::fixed)
        EXPECT_EQ(info.blocks.fully_present, info.payload_blocks);
    else
        EXPECT_EQ(info.blocks.not_present, info.payload_blocks);

    std::vector<uint8_t> model(options.virtual_size, 0);
    expect_contents(disk, model);
    random_writes(disk, model, p.logical, 60, 11);
    expect_contents(disk, model);
    Guid data_guid = disk->info().data_write_guid;
    EXPECT_FALSE(data_guid == info.data_write_guid) << "DataWriteGuid renewed on first write";
    must(disk->close());

    disk = h.open(io, true);
    EXPECT_TRUE(disk->info().log_guid.is_zero()) << "clean close leaves an empty log";
    EXPECT_TRUE(disk->info().data_write_guid == data_guid);
    expect_contents(disk, model);
    must(disk->close());
    EXPECT_EQ(h.allocator.live_bytes(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Kinds, VhdxRoundTrip,
                         ::testing::Values(KindParam{DiskType::dynamic, 512, 512, 1},
                                           KindParam{DiskType::dynamic, 512, 4096, 2},
                                           KindParam{DiskType::dynamic, 4096, 4096, 1},
                                           KindParam{DiskType::dynamic, 4096, 512, 32},
                                           KindParam{DiskType::fixed, 512, 4096, 1},
                                           KindParam{DiskType::fixed, 4096, 4096, 4}));

TEST(VhdxDisk, RejectsBadCreateOptions) {
    Harness h;
    MemoryBlockIo io;
    CreateOptions options;
    options.random = &h.random;
    options.virtual_size = 10 * kMiB;
    options.block_size = 3 * kMiB;
    EXPECT_TRUE(Disk::create(io, h.allocator, options).is_error());
    options.block_size = 512 * kMiB;
    EXPECT_TRUE(Disk::create(io, h.allocator, options).is_error());
    options.block_size = kMiB;
    options.logical_sector_size = 1024;
    EXPECT_TRUE(Disk::create(io, h.allocator, options).is_error());
    options.logical_sector_size = 512;
    options.virtual_size = (64ull << 40) + 512;
    auto result = Disk::create(io, h.allocator, options);
    ASSERT_TRUE(result.is_error());
    EXPECT_STREQ(result.error().message(), "create: size exceeds the 64 TiB maximum");
}

TEST(VhdxDisk, LargeVirtualSizeMetadataOnly) {
    Harness h;
    MemoryBlockIo io;
    CreateOptions options;
    options.virtual_size = 64ull << 40; // 64 TiB: BAT of 2 Mi entries with 32 MiB blocks
    Disk* disk = h.create(io, options);
    std::vector<uint8_t> data(4096, 0xAB), back(4096);
    must(disk->write((64ull << 40) - 4096, data));
    must(disk->read((64ull << 40) - 4096, back));
    EXPECT_TRUE(data == back);
    must(disk->close());
}

TEST(VhdxDisk, UnalignedAndOutOfRangeIoRejected) {
    Harness h;
    MemoryBlockIo io;
    CreateOptions options;
    options.virtual_size = 4 * kMiB;
    options.block_size = kMiB;
    Disk* disk = h.create(io, options);
    std::vector<uint8_t> buffer(512);
    EXPECT_TRUE(disk->read(100, buffer).is_error());
    EXPECT_TRUE(disk->write(4 * kMiB, buffer).is_error());
    must(disk->close());
}

TEST(VhdxDisk, TrimUnmapsWholeBlocksAndReadsZero) {
    Harness h;
    MemoryBlockIo io;
    CreateOptions options;
    options.virtual_size = 8 * kMiB;
    options.block_size = kMiB;
    Disk* disk = h.create(io, options);
    std::vector<uint8_t> model(options.virtual_size, 0);
    random_writes(disk, model, 512, 80, 3, 4000);
    ASSERT_GT(disk->info().blocks.fully_present, 4u);
    // [1.5 MiB, 5.5 MiB): blocks 2..4 are wholly inside, blocks 1 and 5 only partly.
    must(disk->trim(kMiB + kMiB / 2, 4 * kMiB));
    std::memset(model.data() + 2 * kMiB, 0, 3 * kMiB);
    expect_contents(disk, model);
    uint64_t offset = 1;
    EXPECT_EQ(must(disk->block_state(3, &offset)), BlockState::unmapped);
    EXPECT_EQ(offset, 0u);
    EXPECT_EQ(disk->info().blocks.unmapped, 3u);
    // Writing into an unmapped block allocates a fresh one; the rest reads zero.
    std::vector<uint8_t> data(1024, 0x5A);
    must(disk->write(3 * kMiB + 4096, data));
    std::memcpy(model.data() + 3 * kMiB + 4096, data.data(), data.size());
    expect_contents(disk, model);
    must(disk->close());
    disk = h.open(io);
    expect_contents(disk, model);
    must(disk->close());
}

TEST(VhdxDisk, UserMetadataRoundTrip) {
    Harness h;
    MemoryBlockIo io;
    CreateOptions options;
    options.virtual_size = 2 * kMiB;
    options.block_size = kMiB;
    Disk* disk = h.create(io, options);
    Guid id{0x12345678, 0x1234, 0x4321, {1, 2, 3, 4, 5, 6, 7, 8}};
    std::vector<uint8_t> value(5000);
    for (size_t i = 0; i < value.size(); ++i)
        value[i] = static_cast<uint8_t>(i * 7);
    must(disk->write_metadata(id, value, false));
    std::vector<uint8_t> small = {1, 2, 3};
    Guid other{0x87654321, 1, 2, {8, 7, 6, 5, 4, 3, 2, 1}};
    must(disk->write_metadata(other, small, true));
    must(disk->close());
    disk = h.open(io);
    std::vector<uint8_t> back(8000);
    EXPECT_EQ(must(disk->read_metadata(id, back)), 5000u);
    EXPECT_TRUE(std::equal(value.begin(), value.end(), back.begin()));
    EXPECT_EQ(must(disk->read_metadata(other, back)), 3u);
    must(disk->remove_metadata(id));
    EXPECT_TRUE(disk->read_metadata(id, back).is_error());
    EXPECT_TRUE(
        disk->write_metadata(
                Guid{0xcaa16737, 0xfa36, 0x4d43, {0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b}},
                small, false)
            .is_error())
        << "system items are not writable";
    must(disk->close());
    disk = h.open(io, true);
    EXPECT_TRUE(disk->read_metadata(id, back).is_error());
    EXPECT_EQ(must(disk->read_metadata(other, back)), 3u);
    must(disk->close());
}

TEST(VhdxDisk, ReadOnlyOpenRefusesWrites) {
    Harness h;
    MemoryBlockIo io;
    CreateOptions options;
    options.virtual_size = 2 * kMiB;
    options.block_size = kMiB;
    must(h.create(io, options)->close());
    Disk* disk = h.open(io, true);
    std::vector<uint8_t> data(512, 1);
    auto result = disk->write(0, data);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ErrorCode::permission);
    must(disk->close());
}

// --- Differencing chains ---

TEST(VhdxDifferencing, ChainOfDepthThreeReadsThroughAndCopiesOnWrite) {
    for (uint32_t sector : {512u, 4096u}) {
        Harness h;
        MemoryBlockIo base_io, mid_io, top_io;
        h.resolver.add("base.vhdx", &base_io);
        h.resolver.add("mid.vhdx", &mid_io);
        CreateOptions options;
        options.virtual_size = 6 * kMiB;
        options.block_size = kMiB;
        options.logical_sector_size = sector;
        Disk* base = h.create(base_io, options);
        std::vector<uint8_t> model(options.virtual_size, 0);
        random_writes(base, model, sector, 30, 1);
        must(base->close());

        CreateOptions child;
        child.type = DiskType::differencing;
        child.block_size = kMiB;
        child.logical_sector_size = sector;
        child.parent_relative_path = "base.vhdx";
        child.parent_absolute_path = "C:\\disks\\base.vhdx";
        Disk* mid = h.create(mid_io, child);
        expect_contents(mid, model);
        random_writes(mid, model, sector, 30, 2, 300);
        expect_contents(mid, model);
        must(mid->close());

        child.parent_relative_path = "mid.vhdx";
        child.parent_absolute_path = "";
        Disk* top = h.create(top_io, child);
        EXPECT_EQ(top->info().type, DiskType::differencing);
        expect_contents(top, model);
        random_writes(top, model, sector, 40, 3, 200);
        expect_contents(top, model);
        // Trim in a child hides the parent: whole blocks read zero.
        must(top->trim(2 * kMiB, 2 * kMiB));
        std::memset(model.data() + 2 * kMiB, 0, 2 * kMiB);
        expect_contents(top, model);
        DiskInfo info = top->info();
        EXPECT_GT(info.blocks.partially_present, 0u);
        EXPECT_EQ(info.blocks.zero, 2u);
        ASSERT_FALSE(info.parent_locator.empty());
        bool found_relative = false;
        for (const ParentLocatorEntry& e : info.parent_locator)
            found_relative |= e.key == "relative_path" && e.value == "mid.vhdx";
        EXPECT_TRUE(found_relative);
        must(top->close());
        EXPECT_EQ(h.resolver.open_count(), 0);

        top = h.open(top_io, true);
        ASSERT_NE(top->parent(), nullptr);
        ASSERT_NE(top->parent()->parent(), nullptr);
        expect_contents(top, model);
        must(top->close());
        EXPECT_EQ(h.allocator.live_bytes(), 0u);
    }
}

TEST(VhdxDifferencing, ParentModifiedAfterChildCreationIsRefused) {
    Harness h;
    MemoryBlockIo base_io, child_io;
    h.resolver.add("base.vhdx", &base_io);
    CreateOptions options;
    options.virtual_size = 2 * kMiB;
    options.block_size = kMiB;
    must(h.create(base_io, options)->close());
    CreateOptions child;
    child.type = DiskType::differencing;
    child.block_size = kMiB;
    child.parent_relative_path = "base.vhdx";
    must(h.create(child_io, child)->close());
    Disk* base = h.open(base_io);
    std::vector<uint8_t> data(512, 9);
    must(base->write(0, data));
    must(base->close());
    OpenOptions open;
    open.read_only = true;
    open.parent_resolver = &h.resolver;
    auto result = Disk::open(child_io, h.allocator, open);
    ASSERT_TRUE(result.is_error());
    EXPECT_NE(std::string(result.error().message()).find("parent_linkage"), std::string::npos);
    open.ignore_parent_linkage = true;
    must(must(Disk::open(child_io, h.allocator, open))->close());
    EXPECT_EQ(h.allocator.live_bytes(), 0u);
}
