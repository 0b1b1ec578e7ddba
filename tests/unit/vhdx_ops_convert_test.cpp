// vhdx/ops/convert: raw <-> VHDX, fixed <-> dynamic and flattening a chain, copying only what is
// allocated and not zero.
#include "vhdx/ops/convert.hpp"
#include "vhdx_ops_test_util.hpp"

using namespace vhdx_ops_test;
using namespace halcyon::vhdx::ops;

namespace {

constexpr uint64_t kSize = 12 * kMiB;

// 12 MiB with data in MiBs 0, 3 (partly), 7 and 11 only.
std::vector<uint8_t> sparse_image() {
    std::vector<uint8_t> image(kSize, 0);
    for (uint64_t mib : {0, 7, 11}) {
        auto data = random_bytes(mib, kMiB);
        std::memcpy(image.data() + mib * kMiB, data.data(), kMiB);
    }
    auto partial = random_bytes(99, 1000);
    std::memcpy(image.data() + 3 * kMiB + 5000, partial.data(), partial.size());
    return image;
}

TEST(VhdxOpsConvert, RawToDynamicWritesOnlyNonZeroChunks) {
    Env env;
    std::vector<uint8_t> image = sparse_image();
    MemoryBlockIo raw_io(image);
    RawSource source(raw_io, image.size());
    MemoryBlockIo vhdx_io;
    Disk* disk = env.create(vhdx_io, DiskType::dynamic, kSize);
    VhdxSink sink(*disk);
    ConvertStats stats = must(copy_image(source, sink, env.allocator, {}));
    EXPECT_EQ(stats.bytes_total, kSize);
    EXPECT_EQ(stats.bytes_written, 4 * kMiB);
    EXPECT_EQ(stats.bytes_zero, 8 * kMiB);
    EXPECT_EQ(disk->info().blocks.fully_present, 4u); // 1 MiB blocks: only the data MiBs
    EXPECT_EQ(read_all(disk), image);
    must(disk->close());
}

TEST(VhdxOpsConvert, DynamicToRawSkipsUnallocatedBlocks) {
    Env env;
    std::vector<uint8_t> image = sparse_image();
    MemoryBlockIo vhdx_io;
    Disk* disk = env.create(vhdx_io, DiskType::dynamic, kSize);
    must(disk->write(0, image));
    VhdxSource source(*disk);
    MemoryBlockIo raw_io;
    must(raw_io.set_size(kSize));
    RawSink sink(raw_io);
    ConvertStats stats = must(copy_image(source, sink, env.allocator, {}));
    // Zero MiBs are either unallocated (skipped unread) or read and found zero: never written.
    EXPECT_EQ(stats.bytes_written, 4 * kMiB);
    EXPECT_EQ(stats.bytes_skipped + stats.bytes_zero, 8 * kMiB);
    EXPECT_EQ(raw_io.image(), image);
    must(disk->close());
}

TEST(VhdxOpsConvert, UnallocatedRangesAreNotRead) {
    Env env;
    MemoryBlockIo vhdx_io;
    Disk* disk = env.create(vhdx_io, DiskType::dynamic, kSize, 4 * kMiB);
    auto data = random_bytes(5, 4096);
    must(disk->write(4 * kMiB + 4096, data));
    VhdxSource source(*disk);
    MemoryBlockIo raw_io;
    must(raw_io.set_size(kSize));
    RawSink sink(raw_io);
    ConvertStats stats = must(copy_image(source, sink, env.allocator, {}));
    EXPECT_EQ(stats.bytes_skipped, 8 * kMiB); // blocks 0 and 2 are not present
    EXPECT_EQ(stats.bytes_written, kMiB);
    EXPECT_EQ(stats.bytes_zero, 3 * kMiB);
    EXPECT_EQ(0, std::memcmp(raw_io.image().data() + 4 * kMiB + 4096, data.data(), data.size()));
    must(disk->close());
}

TEST(VhdxOpsConvert, FixedToDynamicAndBack) {
    Env env;
    std::vector<uint8_t> image = sparse_image();
    MemoryBlockIo fixed_io;
    Disk* fixed = env.create(fixed_io, DiskType::fixed, kSize, 2 * kMiB, 4096);
    must(fixed->write(0, image));
    MemoryBlockIo dynamic_io;
    Disk* dynamic = env.create(dynamic_io, DiskType::dynamic, kSize, 2 * kMiB, 4096);
    VhdxSource from_fixed(*fixed);
    VhdxSink to_dynamic(*dynamic);
    must(copy_image(from_fixed, to_dynamic, env.allocator, {}));
    EXPECT_EQ(read_all(dynamic), image);
    EXPECT_LT(dynamic->info().blocks.fully_present, fixed->info().blocks.fully_present);
    MemoryBlockIo fixed2_io;
    Disk* fixed2 = env.create(fixed2_io, DiskType::fixed, kSize, 32 * kMiB, 4096);
    VhdxSource from_dynamic(*dynamic);
    VhdxSink to_fixed(*fixed2);
    must(copy_image(from_dynamic, to_fixed, env.allocator, {}));
    EXPECT_EQ(read_all(fixed2), image);
    must(fixed->close());
    must(dynamic->close());
    must(fixed2->close());
}

TEST(VhdxOpsConvert, FlattensADifferencingChain) {
    Env env;
    std::vector<uint8_t> model(kSize, 0);
    MemoryBlockIo base_io, child_io, flat_io;
    env.resolver.add("base.vhdx", &base_io);
    Disk* base = env.create(base_io, DiskType::dynamic, kSize);
    write_both(base, model, 0, random_bytes(1, 3 * kMiB));
    must(base->close());
    Disk* child = env.create(child_io, DiskType::differencing, 0, kMiB, 512, "base.vhdx");
    write_both(child, model, kMiB + 512, random_bytes(2, 4096));
    write_both(child, model, 9 * kMiB, random_bytes(3, kMiB));
    must(child->trim(2 * kMiB, kMiB)); // hides the parent's third MiB
    std::memset(model.data() + 2 * kMiB, 0, kMiB);
    Disk* flat = env.create(flat_io, DiskType::dynamic, kSize);
    VhdxSource source(*child);
    VhdxSink sink(*flat);
    must(copy_image(source, sink, env.allocator, {}));
    EXPECT_FALSE(flat->info().has_parent);
    EXPECT_EQ(read_all(flat), model);
    must(child->close());
    must(flat->close());
}

TEST(VhdxOpsConvert, RawSizeNotASectorMultipleIsPaddedWithZeros) {
    Env env;
    std::vector<uint8_t> image = random_bytes(8, kMiB + 100);
    MemoryBlockIo raw_io(image);
    RawSource source(raw_io, image.size());
    EXPECT_EQ(source.size(), kMiB + 512);
    MemoryBlockIo vhdx_io;
    Disk* disk = env.create(vhdx_io, DiskType::dynamic, source.size());
    VhdxSink sink(*disk);
    must(copy_image(source, sink, env.allocator, {}));
    std::vector<uint8_t> expected = image;
    expected.resize(kMiB + 512, 0);
    EXPECT_EQ(read_all(disk), expected);
    must(disk->close());
}

TEST(VhdxOpsConvert, BadChunkSizeAndSinkFailuresAreErrors) {
    Env env;
    std::vector<uint8_t> image = sparse_image();
    MemoryBlockIo raw_io(image);
    RawSource source(raw_io, image.size());
    MemoryBlockIo out_io;
    must(out_io.set_size(kSize));
    RawSink sink(out_io);
    ConvertOptions options;
    options.chunk_size = 1000;
    EXPECT_TRUE(copy_image(source, sink, env.allocator, options).is_error());
    out_io.cut_power_after(1);
    EXPECT_TRUE(copy_image(source, sink, env.allocator, {}).is_error());
}

class CountingProgress final : public Progress {
public:
    void update(uint64_t done, uint64_t total) override {
        EXPECT_GE(done, last);
        last = done;
        this->total = total;
        calls++;
    }
    uint64_t last = 0, total = 0;
    int calls = 0;
};

TEST(VhdxOpsConvert, ReportsProgressUpToTheTotal) {
    Env env;
    std::vector<uint8_t> image = sparse_image();
    MemoryBlockIo raw_io(image);
    RawSource source(raw_io, image.size());
    MemoryBlockIo out_io;
    must(out_io.set_size(kSize));
    RawSink sink(out_io);
    CountingProgress progress;
    ConvertOptions options;
    options.progress = &progress;
    must(copy_image(source, sink, env.allocator, options));
    EXPECT_EQ(progress.last, kSize);
    EXPECT_EQ(progress.total, kSize);
    EXPECT_EQ(progress.calls, 12);
}

} // namespace
