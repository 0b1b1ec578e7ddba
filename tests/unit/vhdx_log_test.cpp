// The VHDX log: dirty logs left on purpose, replay rules, and power cuts at every write/flush.
#include "vhdx/disk.hpp"
#include "vhdx/format.hpp"
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

struct Write {
    uint64_t offset;
    std::vector<uint8_t> data;
};

std::vector<Write> make_writes(uint64_t disk_size, int count, uint64_t seed) {
    std::mt19937_64 engine(seed);
    std::vector<Write> writes;
    for (int i = 0; i < count; ++i) {
        uint64_t sectors = 1 + engine() % 24;
        uint64_t first = engine() % (disk_size / 512 - sectors);
        Write w{first * 512, std::vector<uint8_t>(sectors * 512)};
        for (auto& b : w.data)
            b = static_cast<uint8_t>(engine());
        writes.push_back(std::move(w));
    }
    return writes;
}

format::Header read_header(MemoryBlockIo& io, int slot) {
    format::Header header;
    std::memcpy(&header, io.image().data() + format::kHeaderOffset[slot], sizeof header);
    return header;
}

} // namespace

TEST(VhdxLog, DirtyLogRefusedReadOnlyThenReplayed) {
    HeapAllocator allocator;
    SeededRandom random(5);
    MemoryBlockIo io;
    CreateOptions options;
    options.random = &random;
    options.virtual_size = 8 * kMiB;
    options.block_size = kMiB;
    Disk* disk = Disk::create(io, allocator, options).release_value();
    std::vector<uint8_t> model(options.virtual_size, 0);
    for (const Write& w : make_writes(options.virtual_size, 20, 1)) {
        ASSERT_FALSE(disk->write(w.offset, w.data).is_error());
        std::memcpy(model.data() + w.offset, w.data.data(), w.data.size());
    }
    ASSERT_FALSE(disk->flush().is_error());
    disk->abandon(); // as if the host crashed: the log is left non-empty
    ASSERT_FALSE(read_header(io, 0).log_guid.is_zero());

    OpenOptions open;
    open.read_only = true;
    auto refused = Disk::open(io, allocator, open);
    ASSERT_TRUE(refused.is_error());
    EXPECT_EQ(refused.error().code(), ErrorCode::permission);
    EXPECT_NE(std::string(refused.error().message()).find("not closed cleanly"), std::string::npos);

    io.set_read_only(true);
    open.allow_replay = true;
    open.random = &random;
    auto refused_read_only = Disk::open(io, allocator, open);
    ASSERT_TRUE(refused_read_only.is_error()) << "cannot replay onto a read-only file";
    io.set_read_only(false);

    disk = Disk::open(io, allocator, open).release_value();
    EXPECT_TRUE(disk->info().log_replayed);
    EXPECT_TRUE(disk->info().log_guid.is_zero());
    std::vector<uint8_t> back(model.size());
    ASSERT_FALSE(disk->read(0, back).is_error());
    EXPECT_TRUE(back == model);
    ASSERT_FALSE(disk->close().is_error());
    EXPECT_EQ(allocator.live_bytes(), 0u);
}

// An entry written and flushed but never applied (power cut right after the log flush) must be
// applied by replay: the BAT on disk lacks the block until then.
TEST(VhdxLog, ReplayAppliesAnEntryThatWasNeverApplied) {
    HeapAllocator allocator;
    SeededRandom random(5);
    MemoryBlockIo io;
    CreateOptions options;
    options.random = &random;
    options.virtual_size = 4 * kMiB;
    options.block_size = kMiB;
    ASSERT_FALSE(Disk::create(io, allocator, options).release_value()->close().is_error());
    OpenOptions open;
    open.random = &random;
    Disk* disk = Disk::open(io, allocator, open).release_value();
    std::vector<uint8_t> data(4096, 0xC3);
    // Operations of an allocating write: header x2 (write+flush each), set_size, data write,
    // flush, log entry write, flush, then the BAT apply. Cut at the BAT apply.
    uint64_t writes_before = io.writes(), flushes_before = io.flushes();
    (void)writes_before;
    (void)flushes_before;
    // header update: write, flush, write, flush (4 ops); data write (1); flush (1);
    // log write (1); flush (1); apply write <- cut here (op index 8).
    io.cut_power_after(8);
    EXPECT_TRUE(disk->write(kMiB, data).is_error());
    disk->abandon();
    MemoryBlockIo after(io.crash_image());
    // Before replay the on-disk BAT does not have the block.
    disk = Disk::open(after, allocator, open).release_value();
    EXPECT_TRUE(disk->info().log_replayed);
    std::vector<uint8_t> back(4096);
    ASSERT_FALSE(disk->read(kMiB, back).is_error());
    EXPECT_TRUE(back == data);
    EXPECT_EQ(disk->info().blocks.fully_present, 1u);
    ASSERT_FALSE(disk->close().is_error());
}

// A torn newest entry (its first sector landed, its data sector did not) fails its CRC-32C and
// is not replayed; the previous entry is the active sequence and the torn write stays invisible.
TEST(VhdxLog, TornNewestEntryIsNotReplayed) {
    HeapAllocator allocator;
    SeededRandom random(5);
    MemoryBlockIo io;
    CreateOptions options;
    options.random = &random;
    options.virtual_size = 4 * kMiB;
    options.block_size = kMiB;
    Disk* disk = Disk::create(io, allocator, options).release_value();
    std::vector<uint8_t> first(512, 1), second(512, 2);
    ASSERT_FALSE(disk->write(0, first).is_error());
    // Second allocating write: data write (op 0), flush (1), log entry write (2) torn after
    // one 512-byte sector.
    io.cut_power_after(2, 1);
    EXPECT_TRUE(disk->write(2 * kMiB, second).is_error());
    disk->abandon();
    MemoryBlockIo rebooted(io.crash_image());
    format::Header header = read_header(rebooted, 0);
    uint32_t signature;
    std::memcpy(&signature, rebooted.image().data() + header.log_offset + 8192, 4);
    ASSERT_EQ(signature, format::kLogEntrySignature) << "the torn entry's first sector landed";
    OpenOptions open;
    open.random = &random;
    auto reopened = Disk::open(rebooted, allocator, open);
    ASSERT_FALSE(reopened.is_error()) << reopened.error().message();
    disk = reopened.release_value();
    EXPECT_TRUE(disk->info().log_replayed);
    std::vector<uint8_t> back(512), zero(512, 0);
    ASSERT_FALSE(disk->read(0, back).is_error());
    EXPECT_TRUE(back == first);
    ASSERT_FALSE(disk->read(2 * kMiB, back).is_error());
    EXPECT_TRUE(back == zero);
    EXPECT_EQ(disk->info().blocks.fully_present, 1u);
    ASSERT_FALSE(disk->close().is_error());
}

TEST(VhdxLog, ShorterThanFlushedFileOffsetIsRefused) {
    HeapAllocator allocator;
    SeededRandom random(5);
    MemoryBlockIo io;
    CreateOptions options;
    options.random = &random;
    options.virtual_size = 4 * kMiB;
    options.block_size = kMiB;
    Disk* disk = Disk::create(io, allocator, options).release_value();
    std::vector<uint8_t> data(512, 1);
    ASSERT_FALSE(disk->write(3 * kMiB, data).is_error());
    disk->abandon();
    io.image().resize(io.image().size() - kMiB); // the data block vanished
    OpenOptions open;
    open.random = &random;
    auto result = Disk::open(io, allocator, open);
    ASSERT_TRUE(result.is_error());
    EXPECT_NE(std::string(result.error().message()).find("FlushedFileOffset"), std::string::npos);
}

// Power cut (with torn writes) at every write and flush of a scenario with allocations in a
// dynamic disk and copy-on-write in a differencing child; after each cut the file reopens,
// replays, and every write acknowledged by a completed flush reads back.
class VhdxCrash : public ::testing::TestWithParam<bool> {};

TEST_P(VhdxCrash, EveryCutPointKeepsAcknowledgedData) {
    const bool differencing = GetParam();
    HeapAllocator allocator;
    SeededRandom random(9);
    MemoryResolver resolver;
    MemoryBlockIo base;
    resolver.add("base.vhdx", &base);
    CreateOptions options;
    options.random = &random;
    options.virtual_size = 4 * kMiB;
    options.block_size = kMiB;
    std::vector<uint8_t> base_model(options.virtual_size, 0);
    {
        Disk* disk = Disk::create(base, allocator, options).release_value();
        for (const Write& w : make_writes(options.virtual_size, 6, 100)) {
            ASSERT_FALSE(disk->write(w.offset, w.data).is_error());
            std::memcpy(base_model.data() + w.offset, w.data.data(), w.data.size());
        }
        ASSERT_FALSE(disk->close().is_error());
    }
    CreateOptions child = options;
    child.type = DiskType::differencing;
    child.virtual_size = 0;
    child.parent_resolver = &resolver;
    child.parent_relative_path = "base.vhdx";
    MemoryBlockIo pristine;
    {
        Disk* disk =
            Disk::create(pristine, allocator, differencing ? child : options).release_value();
        ASSERT_FALSE(disk->close().is_error());
    }
    std::vector<uint8_t> start_model =
        differencing ? base_model : std::vector<uint8_t>(options.virtual_size, 0);
    std::vector<Write> writes = make_writes(options.virtual_size, 8, 200);
    writes.push_back({0, std::vector<uint8_t>(kMiB, 0x77)}); // a whole-block write
    OpenOptions open;
    open.random = &random;
    open.parent_resolver = &resolver;

    auto run = [&](MemoryBlockIo& io, std::vector<uint8_t>& acked, int& completed) {
        std::vector<uint8_t> model = acked;
        Disk* disk = Disk::open(io, allocator, open).release_value();
        completed = 0;
        for (const Write& w : writes) {
            auto written = disk->write(w.offset, w.data);
            if (written.is_error()) {
                if (!io.dead())
                    ADD_FAILURE() << "write failed: " << written.error().message();
                break;
            }
            std::memcpy(model.data() + w.offset, w.data.data(), w.data.size());
            if (disk->flush().is_error())
                break;
            acked = model;
            completed++;
        }
        if (io.dead()) {
            disk->abandon();
            return;
        }
        // close() releases the disk even when a cut makes it fail.
        if (disk->close().is_error() && !io.dead())
            ADD_FAILURE() << "close failed without a cut";
    };
    MemoryBlockIo dry(pristine.image());
    std::vector<uint8_t> acked = start_model;
    int completed = 0;
    run(dry, acked, completed);
    ASSERT_EQ(completed, static_cast<int>(writes.size()));
    uint64_t operations = dry.writes() + dry.flushes();
    ASSERT_GT(operations, 20u);

    for (uint64_t cut = 0; cut < operations; ++cut) {
        MemoryBlockIo io(pristine.image());
        io.cut_power_after(static_cast<int64_t>(cut), cut % 3); // vary the torn length
        std::vector<uint8_t> model = start_model;
        run(io, model, completed);
        ASSERT_TRUE(io.dead()) << "cut " << cut;
        MemoryBlockIo rebooted(io.crash_image());
        auto reopened = Disk::open(rebooted, allocator, open);
        ASSERT_FALSE(reopened.is_error()) << "cut " << cut << ": " << reopened.error().message();
        Disk* disk = reopened.release_value();
        std::vector<uint8_t> back(model.size());
        ASSERT_FALSE(disk->read(0, back).is_error());
        // Writes acknowledged by a flush are all there; the one in flight may be anything
        // between old and new, per sector.
        const Write* in_flight =
            completed < static_cast<int>(writes.size()) ? &writes[completed] : nullptr;
        for (uint64_t s = 0; s < model.size() / 512; ++s) {
            bool same = std::memcmp(back.data() + s * 512, model.data() + s * 512, 512) == 0;
            if (same)
                continue;
            bool inside = in_flight && s * 512 >= in_flight->offset &&
                          s * 512 < in_flight->offset + in_flight->data.size();
            ASSERT_TRUE(inside) << "cut " << cut << ": sector " << s << " lost acknowledged data";
            bool is_new =
                std::memcmp(back.data() + s * 512,
                            in_flight->data.data() + (s * 512 - in_flight->offset), 512) == 0;
            ASSERT_TRUE(is_new) << "cut " << cut << ": sector " << s << " holds foreign bytes";
        }
        ASSERT_FALSE(disk->close().is_error());
        // And it is clean afterwards: a read-only open without replay works.
        OpenOptions read_only = open;
        read_only.read_only = true;
        auto again = Disk::open(rebooted, allocator, read_only);
        ASSERT_FALSE(again.is_error()) << "cut " << cut << ": " << again.error().message();
        again.release_value()->abandon();
    }
    EXPECT_EQ(allocator.live_bytes(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Kinds, VhdxCrash, ::testing::Values(false, true));
