// Property tests: long random sequences (fixed seeds, so failures reproduce) of writes, trims,
// flushes, resizes, compactions and reopens on dynamic, fixed and differencing disks with 512-
// and 4096-byte sectors and small blocks, compared byte for byte with an in-memory model disk
// after every step. Also checks what each operation promises about space: compaction leaves no
// hole a block could fill, a refused shrink changes nothing, the parent of a differencing disk
// is never written.
#include "vhdx/compact.hpp"
#include "vhdx/disk.hpp"
#include "vhdx/resize.hpp"
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

struct Param {
    const char* name;
    DiskType type;
    uint32_t sector;
    uint32_t block_size;
    uint64_t seed;
};

std::string message(const Error& e) {
    return e.message() == nullptr ? "(null)" : e.message();
}

#define MUST(expr)                                                                                 \
    do {                                                                                           \
        auto _r = (expr);                                                                          \
        ASSERT_FALSE(_r.is_error())                                                                \
            << #expr << ": " << message(_r.error()) << " at step " << step;                        \
    } while (0)

class VhdxProperty : public ::testing::TestWithParam<Param> {};

TEST_P(VhdxProperty, RandomOperationsMatchTheModel) {
    const Param& p = GetParam();
    HeapAllocator allocator;
    SeededRandom random(p.seed);
    MemoryResolver resolver;
    MemoryBlockIo parent_io, io;
    std::mt19937_64 rng(p.seed);
    int step = -1;
    // Whole 64-bit words per draw: byte-wise generation dominated the run time under ASan.
    auto fill_random = [&](std::vector<uint8_t>& out) {
        for (size_t i = 0; i < out.size(); i += 8) {
            uint64_t word = rng();
            std::memcpy(out.data() + i, &word, std::min<size_t>(8, out.size() - i));
        }
    };
    const uint64_t sector = p.sector;
    uint64_t size = 5 * kMiB + 3 * sector; // deliberately not block aligned
    std::vector<uint8_t> model(size, 0);

    CreateOptions create;
    create.type = p.type;
    create.virtual_size = size;
    create.block_size = p.block_size;
    create.logical_sector_size = p.sector;
    create.physical_sector_size = 4096;
    create.random = &random;
    const bool differencing = p.type == DiskType::differencing;
    if (differencing) {
        create.type = DiskType::dynamic;
        auto parent = Disk::create(parent_io, allocator, create);
        ASSERT_FALSE(parent.is_error());
        fill_random(model);
        MUST(parent.value()->write(0, model));
        MUST(parent.value()->close());
        resolver.add("parent.vhdx", &parent_io);
        create.type = DiskType::differencing;
        create.parent_resolver = &resolver;
        create.parent_relative_path = "parent.vhdx";
    }
    const std::vector<uint8_t> parent_before = parent_io.image();
    auto created = Disk::create(io, allocator, create);
    ASSERT_FALSE(created.is_error()) << message(created.error());
    Disk* disk = created.value();
    OpenOptions open;
    open.random = &random;
    open.parent_resolver = &resolver;

    auto compare = [&]() -> std::string {
        if (disk->info().virtual_size != model.size())
            return "virtual size differs";
        std::vector<uint8_t> back(model.size());
        auto read = disk->read(0, back);
        if (read.is_error())
            return "read: " + message(read.error());
        if (std::memcmp(back.data(), model.data(), back.size()) == 0)
            return "";
        size_t i = 0;
        while (back[i] == model[i])
            ++i;
        return "byte " + std::to_string(i) + " differs";
    };
    auto random_range = [&](uint64_t max_length, uint64_t& offset, uint64_t& length) {
        uint64_t sectors = model.size() / sector;
        offset = rng() % sectors * sector;
        length = (1 + rng() % (max_length / sector)) * sector;
        if (offset + length > model.size())
            length = model.size() - offset;
    };

    const int steps = 160;
    // What actually ran, so a change to the operation mix cannot silently stop testing one.
    int resizes = 0, refused_shrinks = 0, compactions = 0, reopens = 0;
    uint64_t blocks_moved = 0;
    for (step = 0; step < steps; ++step) {
        int op = static_cast<int>(rng() % 100);
        const uint64_t bs = p.block_size;
        if (op < 45) { // write
            uint64_t offset, length;
            random_range(5 * bs / 2, offset, length);
            std::vector<uint8_t> data(length);
            fill_random(data);
            MUST(disk->write(offset, data));
            std::copy(data.begin(), data.end(), model.begin() + static_cast<long>(offset));
        } else if (op < 58) { // trim: whole blocks of dynamic/differencing disks read zeros
            uint64_t offset, length;
            random_range(3 * bs, offset, length);
            MUST(disk->trim(offset, length));
            if (p.type != DiskType::fixed) {
                uint64_t first = (offset + bs - 1) / bs * bs;
                uint64_t end =
                    offset + length == model.size() ? model.size() : (offset + length) / bs * bs;
                for (uint64_t i = first; i < end; ++i)
                    model[i] = 0;
            }
        } else if (op < 65) {
            MUST(disk->flush());
        } else if (op < 77 && !differencing) { // resize
            uint64_t new_size = (kMiB + rng() % (9 * kMiB)) / sector * sector;
            if (new_size < model.size()) {
                // Refused iff data lies in blocks wholly past the new end (fixed: non-zero).
                uint64_t first_gone = (new_size + bs - 1) / bs;
                bool data_beyond = false;
                for (uint64_t b = first_gone; b * bs < model.size(); ++b) {
                    uint64_t found = 0;
                    auto state = disk->block_state(b, &found);
                    ASSERT_FALSE(state.is_error());
                    bool present = state.value() == BlockState::fully_present;
                    if (p.type == DiskType::fixed) {
                        present = false;
                        for (uint64_t i = b * bs; i < std::min(model.size(), (b + 1) * bs); ++i)
                            present = present || model[i] != 0;
                    }
                    data_beyond = data_beyond || present;
                }
                uint64_t file_before = io.image().size();
                auto refused = resize(*disk, new_size, {false});
                ASSERT_EQ(refused.is_error(), data_beyond) << "step " << step;
                if (refused.is_error()) {
                    ASSERT_EQ(refused.error().code(), ErrorCode::busy);
                    ASSERT_EQ(io.image().size(), file_before);
                    ASSERT_EQ(compare(), "") << "a refused shrink changed the disk";
                    refused_shrinks++;
                    MUST(resize(*disk, new_size, {true}));
                }
            } else {
                MUST(resize(*disk, new_size));
            }
            model.resize(new_size, 0);
            resizes++;
        } else if (op < 85) { // compact
            auto result = compact(*disk);
            ASSERT_FALSE(result.is_error()) << message(result.error()) << " at step " << step;
            DiskInfo info = disk->info();
            ASSERT_LE(result.value().new_file_size, result.value().old_file_size);
            compactions++;
            blocks_moved += result.value().blocks_moved;
            ASSERT_EQ(info.file_size, io.image().size());
            if (p.block_size == kMiB) {
                // Every extent is a multiple of 1 MiB, so any hole fits any block: after
                // compaction the file is exactly its structures plus its blocks.
                uint64_t used =
                    4 * kMiB + (info.blocks.fully_present + info.blocks.partially_present) * kMiB;
                if (differencing)
                    used += info.blocks.sector_bitmap_present * kMiB;
                ASSERT_EQ(info.file_size, used) << "compaction left a hole, step " << step;
            }
        } else { // reopen (clean close)
            MUST(disk->close());
            auto reopened = Disk::open(io, allocator, open);
            ASSERT_FALSE(reopened.is_error()) << message(reopened.error());
            disk = reopened.value();
            ASSERT_FALSE(disk->info().log_replayed);
            reopens++;
        }
        std::string e = compare();
        ASSERT_EQ(e, "") << "after step " << step << " (op " << op << ")";
    }
    EXPECT_GE(compactions, 5);
    EXPECT_GE(reopens, 5);
    if (p.type != DiskType::fixed)
        EXPECT_GT(blocks_moved, 0u) << "compaction never moved a block";
    if (!differencing) {
        EXPECT_GE(resizes, 5);
        EXPECT_GE(refused_shrinks, 1);
    }
    MUST(disk->close());
    auto reopened = Disk::open(io, allocator, open);
    ASSERT_FALSE(reopened.is_error()) << message(reopened.error());
    disk = reopened.value();
    ASSERT_EQ(compare(), "");
    disk->abandon();
    EXPECT_EQ(parent_io.image(), parent_before) << "the parent was written";
    EXPECT_EQ(allocator.live_bytes(), 0u) << "memory leaked";
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, VhdxProperty,
    ::testing::Values(Param{"dynamic_512_1m", DiskType::dynamic, 512, 1 << 20, 1},
                      Param{"dynamic_4096_1m", DiskType::dynamic, 4096, 1 << 20, 2},
                      Param{"dynamic_512_2m", DiskType::dynamic, 512, 2 << 20, 3},
                      Param{"fixed_512_1m", DiskType::fixed, 512, 1 << 20, 4},
                      Param{"fixed_4096_2m", DiskType::fixed, 4096, 2 << 20, 5},
                      Param{"differencing_512_1m", DiskType::differencing, 512, 1 << 20, 6},
                      Param{"differencing_4096_1m", DiskType::differencing, 4096, 1 << 20, 7},
                      Param{"dynamic_512_1m_seed2", DiskType::dynamic, 512, 1 << 20, 8}),
    [](const ::testing::TestParamInfo<Param>& info) { return info.param.name; });

} // namespace
