// Property test for merges: rounds of random writes and trims into a differencing child (also
// while a live merge runs, reported through note_guest_write), checked against a model after
// every step; at the end of each round the child is merged into its parent, the parent alone
// must equal the model, and a fresh child on the merged parent starts the next round (the
// checkpoint cycle a VM goes through). Deterministic seeds.
#include "vhdx/ops/merge.hpp"
#include "vhdx/testing/memory_block_io.hpp"
#include "vhdx/testing/memory_resolver.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <optional>
#include <random>

using namespace halcyon;
using namespace halcyon::vhdx;
using namespace halcyon::vhdx::testing;

namespace {

std::string message(const Error& e) {
    return e.message() == nullptr ? "(null)" : e.message();
}

std::string compare(Disk& disk, const std::vector<uint8_t>& model) {
    std::vector<uint8_t> back(model.size());
    auto read = disk.read(0, back);
    if (read.is_error())
        return "read: " + message(read.error());
    if (std::memcmp(back.data(), model.data(), back.size()) == 0)
        return "";
    size_t i = 0;
    while (back[i] == model[i])
        ++i;
    return "byte " + std::to_string(i) + " differs";
}

class VhdxMergeProperty : public ::testing::TestWithParam<uint32_t> {};

TEST_P(VhdxMergeProperty, RoundsOfWritesAndMergesMatchTheModel) {
    const uint32_t sector = GetParam();
    HeapAllocator allocator;
    SeededRandom random(sector);
    std::mt19937_64 rng(sector * 77);
    MemoryBlockIo parent_io;
    MemoryResolver resolver;
    resolver.add("parent.vhdx", &parent_io);
    const uint64_t size = 6 * kMiB;
    std::vector<uint8_t> model(size, 0);
    auto fill = [&](std::vector<uint8_t>& out) {
        for (size_t i = 0; i < out.size(); i += 8) {
            uint64_t word = rng();
            std::memcpy(out.data() + i, &word, std::min<size_t>(8, out.size() - i));
        }
    };

    CreateOptions o;
    o.virtual_size = size;
    o.block_size = kMiB;
    o.logical_sector_size = sector;
    o.random = &random;
    o.parent_resolver = &resolver;
    auto parent = Disk::create(parent_io, allocator, o);
    ASSERT_FALSE(parent.is_error());
    ASSERT_FALSE(parent.value()->close().is_error());
    OpenOptions writable;
    writable.random = &random;
    writable.parent_resolver = &resolver;

    int merged_rounds = 0;
    for (int round = 0; round < 4; ++round) {
        MemoryBlockIo child_io;
        CreateOptions c = o;
        c.type = DiskType::differencing;
        c.virtual_size = 0;
        c.parent_relative_path = "parent.vhdx";
        auto created = Disk::create(child_io, allocator, c);
        ASSERT_FALSE(created.is_error()) << message(created.error());
        Disk* child = created.value();
        Disk* merge_parent = nullptr;
        ops::MergeOptions mo;
        mo.chunk_size = 128 * 1024;
        mo.live = round % 2 == 1; // odd rounds: the guest keeps writing during the merge
        std::optional<ops::Merger> merger;
        const int steps = 40;
        for (int step = 0; step < steps; ++step) {
            uint64_t first = rng() % (size / sector);
            uint64_t count = 1 + rng() % (3 * kMiB / sector);
            count = std::min(count, size / sector - first);
            if (rng() % 5 == 0) {
                ASSERT_FALSE(child->trim(first * sector, count * sector).is_error());
                uint64_t bs = kMiB, begin = first * sector, end = begin + count * sector;
                uint64_t a = (begin + bs - 1) / bs * bs, b = end == size ? size : end / bs * bs;
                for (uint64_t i = a; i < b; ++i)
                    model[i] = 0;
            } else {
                std::vector<uint8_t> data(count * sector);
                fill(data);
                ASSERT_FALSE(child->write(first * sector, data).is_error());
                std::memcpy(model.data() + first * sector, data.data(), data.size());
            }
            if (merger)
                merger->note_guest_write(first * sector, count * sector);
            ASSERT_EQ(compare(*child, model), "") << "round " << round << " step " << step;
            // Live rounds start the merge halfway and step it between guest writes.
            if (mo.live && step == steps / 2) {
                auto p = Disk::open(parent_io, allocator, writable);
                ASSERT_FALSE(p.is_error()) << message(p.error());
                merge_parent = p.value();
                auto started = ops::Merger::start(*child, *merge_parent, allocator, mo);
                ASSERT_FALSE(started.is_error()) << message(started.error());
                merger.emplace(started.release_value());
            }
            if (merger)
                ASSERT_FALSE(merger->step().is_error());
        }
        if (!merger) {
            auto p = Disk::open(parent_io, allocator, writable);
            ASSERT_FALSE(p.is_error()) << message(p.error());
            merge_parent = p.value();
            auto started = ops::Merger::start(*child, *merge_parent, allocator, mo);
            ASSERT_FALSE(started.is_error()) << message(started.error());
            merger.emplace(started.release_value());
        }
        auto ran = merger->run();
        ASSERT_FALSE(ran.is_error()) << message(ran.error());
        ASSERT_EQ(compare(*child, model), "") << "chain after merge, round " << round;
        ASSERT_FALSE(merge_parent->close().is_error());
        child->abandon(); // the merged child is discarded
        OpenOptions ro;
        ro.read_only = true;
        auto alone = Disk::open(parent_io, allocator, ro);
        ASSERT_FALSE(alone.is_error()) << message(alone.error());
        ASSERT_EQ(compare(*alone.value(), model), "") << "parent alone after round " << round;
        alone.value()->abandon();
        merged_rounds++;
    }
    EXPECT_EQ(merged_rounds, 4);
    EXPECT_EQ(allocator.live_bytes(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Sectors, VhdxMergeProperty, ::testing::Values(512u, 4096u));

} // namespace
