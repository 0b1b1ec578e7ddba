#include "mm/ept_format.hpp"
#include "mm/page_table.hpp"
#include "mm/x86_page_format.hpp"

#include <cstdlib>
#include <cstring>
#include <gtest/gtest.h>
#include <map>
#include <random>
#include <set>
#include <vector>

using namespace halcyon;
using namespace halcyon::mm;

namespace {

constexpr uint64_t KiB4 = 4096;
constexpr uint64_t MiB2 = 2ULL << 20;
constexpr uint64_t GiB1 = 1ULL << 30;

// Fake physical memory for page tables: a pool of pages at a made-up physical base. Tracks
// which pages are live so tests can check that tables are freed (and never freed twice).
class TablePool {
public:
    static constexpr uint64_t kBase = 0x4000'0000; // "physical" address of page 0

    explicit TablePool(size_t pages) : pages_(pages) {
        memory_ = static_cast<uint64_t*>(std::aligned_alloc(KiB4, pages * KiB4));
    }
    ~TablePool() { std::free(memory_); }
    TablePool(const TablePool&) = delete;

    uint64_t* table_at(uint64_t physical) {
        EXPECT_TRUE(live_.count(physical)) << "walker touched a non-table " << std::hex << physical;
        return memory_ + (physical - kBase) / 8;
    }
    ErrorOr<uint64_t> allocate_table() {
        if (limit_ && live_.size() >= limit_)
            return Error(ErrorCode::out_of_memory, "test pool limit");
        for (size_t i = 0; i < pages_; ++i) {
            const uint64_t physical = kBase + i * KiB4;
            if (!live_.count(physical)) {
                live_.insert(physical);
                std::memset(memory_ + i * 512, 0, KiB4);
                return physical;
            }
        }
        return Error(ErrorCode::out_of_memory, "test pool exhausted");
    }
    void free_table(uint64_t physical) {
        EXPECT_EQ(live_.erase(physical), 1u) << "table freed twice " << std::hex << physical;
        // Poison so a use after free shows up as garbage translations.
        std::memset(memory_ + (physical - kBase) / 8, 0xCB, KiB4);
    }
    size_t live_tables() const { return live_.size(); }
    void set_limit(size_t limit) { limit_ = limit; }

private:
    uint64_t* memory_;
    size_t pages_;
    std::set<uint64_t> live_;
    size_t limit_ = 0;
};

// Policies are held by value in PageTable; these forward to one shared pool.
struct PoolMemory {
    TablePool* pool;
    uint64_t* table_at(uint64_t physical) { return pool->table_at(physical); }
};
struct PoolAllocator {
    TablePool* pool;
    ErrorOr<uint64_t> allocate_table() { return pool->allocate_table(); }
    void free_table(uint64_t physical) { pool->free_table(physical); }
};

using TestTable = PageTable<X86PageFormat, PoolMemory, PoolAllocator>;
using EptTable = PageTable<EptFormat, PoolMemory, PoolAllocator>;

TestTable make_table(TablePool& pool, LargePages large = {true, true}) {
    auto table = TestTable::create(PoolMemory{&pool}, PoolAllocator{&pool}, large);
    EXPECT_FALSE(table.is_error());
    return table.release_value();
}

constexpr Attributes kRw{true, false, false, CacheMode::write_back};
constexpr Attributes kRx{false, true, false, CacheMode::write_back};
constexpr Attributes kUserRwUc{true, false, true, CacheMode::uncached};

void expect_maps(const TestTable& table, uint64_t virt, uint64_t physical, Attributes attributes,
                 PageSize size) {
    auto translation = table.lookup(virt);
    ASSERT_TRUE(translation.has_value()) << std::hex << virt;
    EXPECT_EQ(translation->physical, physical) << std::hex << virt;
    EXPECT_EQ(translation->attributes, attributes) << std::hex << virt;
    EXPECT_EQ(translation->page_size, size) << std::hex << virt;
}

} // namespace

TEST(X86PageFormat, PatValueMatchesIndexTable) {
    for (unsigned index = 0; index < 8; ++index) {
        const uint8_t encoding = (kX86PatMsrValue >> (8 * index)) & 0xFF;
        const CacheMode mode = X86PageFormat::cache_for_pat_index(index);
        const uint8_t expected[] = {6, 4, 7, 0, 1, 5}; // WB WT UC- UC WC WP
        EXPECT_EQ(encoding, expected[static_cast<int>(mode)]) << index;
    }
}

TEST(X86PageFormat, LeafBitsAndRoundTrip) {
    const CacheMode modes[] = {CacheMode::write_back,      CacheMode::write_through,
                               CacheMode::uncached_minus,  CacheMode::uncached,
                               CacheMode::write_combining, CacheMode::write_protected};
    for (int level = 0; level <= 2; ++level) {
        const uint64_t physical = 0x1234ULL << (12 + 9 * level);
        for (int bits = 0; bits < 8; ++bits) {
            for (CacheMode mode : modes) {
                const Attributes attributes{(bits & 1) != 0, (bits & 2) != 0, (bits & 4) != 0,
                                            mode};
                const uint64_t entry = X86PageFormat::make_leaf(physical, attributes, level);
                EXPECT_TRUE(entry & 1);
                EXPECT_EQ((entry >> 1) & 1, uint64_t(attributes.writable));
                EXPECT_EQ((entry >> 2) & 1, uint64_t(attributes.user));
                EXPECT_EQ(entry >> 63, uint64_t(!attributes.executable));
                EXPECT_EQ((entry >> 7) & 1, level == 0
                                                ? uint64_t(mode == CacheMode::write_combining ||
                                                           mode == CacheMode::write_protected)
                                                : 1u); // PAT at 4K, PS for large
                EXPECT_TRUE(X86PageFormat::is_leaf(entry, level));
                EXPECT_EQ(X86PageFormat::address(entry, level), physical);
                EXPECT_EQ(X86PageFormat::attributes(entry, level), attributes);
            }
        }
    }
    // Uncached is PCD|PWT with PAT clear: the power-on PAT's UC, independent of our PAT value.
    const uint64_t uc =
        X86PageFormat::make_leaf(0x5000, {true, false, false, CacheMode::uncached}, 0);
    EXPECT_EQ(uc & 0x98, 0x18u);
    // Tables grant everything and are never leaves above level 0.
    const uint64_t table = X86PageFormat::make_table(0x7000);
    EXPECT_EQ(table, 0x7007u);
    EXPECT_FALSE(X86PageFormat::is_leaf(table, 1));
    EXPECT_FALSE(X86PageFormat::is_leaf(table, 3));
}

TEST(PageTable, MapsAndLooksUpSmallPages) {
    TablePool pool(64);
    auto table = make_table(pool);
    ASSERT_FALSE(table.map(0x40'0000'0000, 0x1234'5000, 3 * KiB4, kRw).is_error());
    for (int i = 0; i < 3; ++i)
        expect_maps(table, 0x40'0000'0000 + i * KiB4 + 0x123, 0x1234'5000 + i * KiB4 + 0x123, kRw,
                    PageSize::size_4k);
    EXPECT_FALSE(table.lookup(0x40'0000'0000 - KiB4).has_value());
    EXPECT_FALSE(table.lookup(0x40'0000'0000 + 3 * KiB4).has_value());
    EXPECT_EQ(pool.live_tables(), 4u); // PML4, PDPT, PD, PT
    auto translation = table.lookup(0x40'0000'1010);
    ASSERT_TRUE(translation);
    EXPECT_EQ(translation->page_base, 0x1234'6000u);
}

TEST(PageTable, UsesLargePagesWhenAlignmentAllows) {
    TablePool pool(64);
    auto table = make_table(pool);
    // 1 GiB + 2 MiB + 4 KiB, all aligned at the start: one of each size.
    const uint64_t virt = 0xFFFF'8000'0000'0000ULL;
    ASSERT_FALSE(table.map(virt, 0, GiB1 + MiB2 + KiB4, kRw).is_error());
    expect_maps(table, virt + 5, 5, kRw, PageSize::size_1g);
    expect_maps(table, virt + GiB1 - 8, GiB1 - 8, kRw, PageSize::size_1g);
    expect_maps(table, virt + GiB1 + 0x1234, GiB1 + 0x1234, kRw, PageSize::size_2m);
    expect_maps(table, virt + GiB1 + MiB2, GiB1 + MiB2, kRw, PageSize::size_4k);
    EXPECT_FALSE(table.lookup(virt + GiB1 + MiB2 + KiB4).has_value());
    EXPECT_EQ(pool.live_tables(), 4u); // PML4, PDPT, one PD, one PT
}

TEST(PageTable, RespectsLargePageCapabilities) {
    TablePool pool(64);
    auto table = make_table(pool, LargePages{true, false});
    ASSERT_FALSE(table.map(GiB1, GiB1, GiB1, kRw).is_error());
    expect_maps(table, GiB1 + 0x3FF0'0000, GiB1 + 0x3FF0'0000, kRw, PageSize::size_2m);
    EXPECT_EQ(pool.live_tables(), 3u);

    TablePool small_pool(64);
    auto small_only = make_table(small_pool, LargePages{false, false});
    ASSERT_FALSE(small_only.map(0, 0, 2 * MiB2, kRw).is_error());
    expect_maps(small_only, MiB2 + 0x5000, MiB2 + 0x5000, kRw, PageSize::size_4k);
    EXPECT_EQ(small_pool.live_tables(), 3u + 2u); // PML4, PDPT, PD, two PTs
}

TEST(PageTable, MisalignedPhysicalForcesSmallPages) {
    TablePool pool(64);
    auto table = make_table(pool);
    ASSERT_FALSE(table.map(MiB2, MiB2 + KiB4, MiB2, kRw).is_error());
    expect_maps(table, MiB2, MiB2 + KiB4, kRw, PageSize::size_4k);
    expect_maps(table, 2 * MiB2 - KiB4, 2 * MiB2, kRw, PageSize::size_4k);
}

TEST(PageTable, UnalignedRangeUsesLargePagesInTheMiddle) {
    TablePool pool(64);
    auto table = make_table(pool);
    ASSERT_FALSE(table.map(MiB2 - KiB4, MiB2 - KiB4, MiB2 + 2 * KiB4, kRx).is_error());
    expect_maps(table, MiB2 - KiB4, MiB2 - KiB4, kRx, PageSize::size_4k);
    expect_maps(table, MiB2, MiB2, kRx, PageSize::size_2m);
    expect_maps(table, 2 * MiB2, 2 * MiB2, kRx, PageSize::size_4k);
    EXPECT_FALSE(table.lookup(2 * MiB2 + KiB4).has_value());
}

TEST(PageTable, ProtectSplitsLargePages) {
    TablePool pool(64);
    auto table = make_table(pool);
    ASSERT_FALSE(table.map(GiB1, 4 * GiB1, GiB1, kRw).is_error());
    const size_t before = pool.live_tables();
    ASSERT_FALSE(table.protect(GiB1 + MiB2 + 3 * KiB4, KiB4, kRx).is_error());
    EXPECT_EQ(pool.live_tables(), before + 2); // 1 GiB -> PD, 2 MiB -> PT
    expect_maps(table, GiB1 + MiB2 + 3 * KiB4, 4 * GiB1 + MiB2 + 3 * KiB4, kRx, PageSize::size_4k);
    expect_maps(table, GiB1 + MiB2 + 2 * KiB4, 4 * GiB1 + MiB2 + 2 * KiB4, kRw, PageSize::size_4k);
    expect_maps(table, GiB1 + MiB2 + 4 * KiB4, 4 * GiB1 + MiB2 + 4 * KiB4, kRw, PageSize::size_4k);
    expect_maps(table, GiB1, 4 * GiB1, kRw, PageSize::size_2m);
    expect_maps(table, 2 * GiB1 - KiB4, 5 * GiB1 - KiB4, kRw, PageSize::size_2m);
    // Every page of the former 1 GiB page still translates to the same place.
    for (uint64_t offset = 0; offset < GiB1; offset += 64 * KiB4) {
        auto t = table.lookup(GiB1 + offset);
        ASSERT_TRUE(t);
        EXPECT_EQ(t->physical, 4 * GiB1 + offset);
    }
}

TEST(PageTable, ProtectWholeLargePageKeepsItLarge) {
    TablePool pool(64);
    auto table = make_table(pool);
    ASSERT_FALSE(table.map(0, 0, 4 * MiB2, kRw).is_error());
    ASSERT_FALSE(table.protect(MiB2, 2 * MiB2, kUserRwUc).is_error());
    expect_maps(table, 0, 0, kRw, PageSize::size_2m);
    expect_maps(table, MiB2, MiB2, kUserRwUc, PageSize::size_2m);
    expect_maps(table, 2 * MiB2 + 5, 2 * MiB2 + 5, kUserRwUc, PageSize::size_2m);
    expect_maps(table, 3 * MiB2, 3 * MiB2, kRw, PageSize::size_2m);
}

TEST(PageTable, ProtectOfUnmappedRangeFailsWithoutChanges) {
    TablePool pool(64);
    auto table = make_table(pool);
    ASSERT_FALSE(table.map(0, 0, 4 * KiB4, kRw).is_error());
    auto result = table.protect(0, 5 * KiB4, kRx);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ErrorCode::not_found);
    expect_maps(table, 0, 0, kRw, PageSize::size_4k);
    expect_maps(table, 3 * KiB4, 3 * KiB4, kRw, PageSize::size_4k);
}

TEST(PageTable, RemapInsideLargePageSplits) {
    TablePool pool(64);
    auto table = make_table(pool);
    ASSERT_FALSE(table.map(0, MiB2, MiB2, kRw).is_error());
    ASSERT_FALSE(table.map(5 * KiB4, 0x7777'0000, 2 * KiB4, kRx).is_error());
    expect_maps(table, 4 * KiB4, MiB2 + 4 * KiB4, kRw, PageSize::size_4k);
    expect_maps(table, 5 * KiB4, 0x7777'0000, kRx, PageSize::size_4k);
    expect_maps(table, 6 * KiB4, 0x7777'1000, kRx, PageSize::size_4k);
    expect_maps(table, 7 * KiB4, MiB2 + 7 * KiB4, kRw, PageSize::size_4k);
}

TEST(PageTable, LargeMappingOverSmallPagesFreesTheirTables) {
    TablePool pool(64);
    auto table = make_table(pool);
    ASSERT_FALSE(table.map(0, 0, 16 * KiB4, kRw).is_error());
    ASSERT_FALSE(table.map(MiB2, MiB2, KiB4, kRw).is_error());
    EXPECT_EQ(pool.live_tables(), 5u);
    ASSERT_FALSE(table.map(0, 8 * MiB2, 2 * MiB2, kRx).is_error());
    EXPECT_EQ(pool.live_tables(), 3u);
    expect_maps(table, 0x1000, 8 * MiB2 + 0x1000, kRx, PageSize::size_2m);
    // And a 1 GiB mapping over the whole PD frees the PD.
    ASSERT_FALSE(table.map(0, 0, GiB1, kRw).is_error());
    EXPECT_EQ(pool.live_tables(), 2u);
    expect_maps(table, 0x1000, 0x1000, kRw, PageSize::size_1g);
}

TEST(PageTable, UnmapFreesEmptyTablesAndSplits) {
    TablePool pool(64);
    auto table = make_table(pool);
    ASSERT_FALSE(table.map(0xFFFF'FFFF'8000'0000ULL, 0x20'0000, 3 * MiB2, kRw).is_error());
    ASSERT_FALSE(table.map(0x1000, 0x1000, KiB4, kRw).is_error());
    EXPECT_EQ(pool.live_tables(), 1u + 2u + 3u); // root, kernel PDPT+PD, low PDPT+PD+PT
    // Punch a 4 KiB hole into the middle 2 MiB page.
    ASSERT_FALSE(table.unmap(0xFFFF'FFFF'8020'0000ULL + 7 * KiB4, KiB4).is_error());
    EXPECT_FALSE(table.lookup(0xFFFF'FFFF'8020'7000ULL).has_value());
    expect_maps(table, 0xFFFF'FFFF'8020'6000ULL, 0x40'6000, kRw, PageSize::size_4k);
    expect_maps(table, 0xFFFF'FFFF'8020'8000ULL, 0x40'8000, kRw, PageSize::size_4k);
    expect_maps(table, 0xFFFF'FFFF'8040'0000ULL, 0x60'0000, kRw, PageSize::size_2m);
    EXPECT_EQ(pool.live_tables(), 7u);
    // Unmapping the rest (holes included) releases everything but the root.
    ASSERT_FALSE(table.unmap(0xFFFF'FFFF'8000'0000ULL, 3 * MiB2).is_error());
    EXPECT_EQ(pool.live_tables(), 4u);
    ASSERT_FALSE(table.unmap(0, GiB1).is_error());
    EXPECT_EQ(pool.live_tables(), 1u);
    EXPECT_FALSE(table.lookup(0x1000).has_value());
    // Unmapping nothing is fine.
    ASSERT_FALSE(table.unmap(0x1234'0000'0000, GiB1).is_error());
    EXPECT_EQ(pool.live_tables(), 1u);
}

TEST(PageTable, RejectsBadRanges) {
    TablePool pool(16);
    auto table = make_table(pool);
    EXPECT_EQ(table.map(0x1001, 0, KiB4, kRw).error().code(), ErrorCode::invalid_argument);
    EXPECT_EQ(table.map(0x1000, 0x10, KiB4, kRw).error().code(), ErrorCode::invalid_argument);
    EXPECT_EQ(table.map(0x1000, 0, 100, kRw).error().code(), ErrorCode::invalid_argument);
    EXPECT_EQ(table.map(0x0000'8000'0000'0000ULL, 0, KiB4, kRw).error().code(),
              ErrorCode::out_of_range);
    // Crossing from the lower half into the hole.
    EXPECT_EQ(table.map(0x0000'7FFF'FFFF'F000ULL, 0, 2 * KiB4, kRw).error().code(),
              ErrorCode::out_of_range);
    EXPECT_EQ(table.unmap(0xFFFF'FFFF'FFFF'F000ULL, 2 * KiB4).error().code(),
              ErrorCode::out_of_range);
    EXPECT_FALSE(table.lookup(0x0000'8000'0000'0000ULL).has_value());
    EXPECT_EQ(pool.live_tables(), 1u);
}

TEST(PageTable, TopAndBottomOfTheAddressSpace) {
    TablePool pool(16);
    auto table = make_table(pool);
    ASSERT_FALSE(table.map(0xFFFF'FFFF'FFFF'E000ULL, 0x9000, 2 * KiB4, kRw).is_error());
    ASSERT_FALSE(table.map(0x0000'7FFF'FFFF'F000ULL, 0xA000, KiB4, kRw).is_error());
    expect_maps(table, 0xFFFF'FFFF'FFFF'FFFFULL, 0xAFFF, kRw, PageSize::size_4k);
    expect_maps(table, 0x0000'7FFF'FFFF'FFFFULL, 0xAFFF, kRw, PageSize::size_4k);
    EXPECT_TRUE(table.is_mapped(0xFFFF'FFFF'FFFF'E000ULL, 2 * KiB4));
    ASSERT_FALSE(table.protect(0xFFFF'FFFF'FFFF'E000ULL, 2 * KiB4, kRx).is_error());
    ASSERT_FALSE(table.unmap(0xFFFF'FFFF'FFFF'E000ULL, 2 * KiB4).is_error());
    ASSERT_FALSE(table.unmap(0x0000'7FFF'FFFF'F000ULL, KiB4).is_error());
    EXPECT_EQ(pool.live_tables(), 1u);
}

TEST(PageTable, ReportsTableExhaustion) {
    TablePool pool(64);
    auto table = make_table(pool);
    pool.set_limit(3);
    auto result = table.map(0, 0, KiB4, kRw);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ErrorCode::out_of_memory);
    EXPECT_FALSE(table.lookup(0).has_value());
    pool.set_limit(0);
    table.destroy();
    EXPECT_EQ(pool.live_tables(), 0u);
}

TEST(PageTable, DestroyFreesEverything) {
    TablePool pool(128);
    auto table = make_table(pool);
    ASSERT_FALSE(table.map(0, 0, 5 * MiB2 + 3 * KiB4, kRw).is_error());
    ASSERT_FALSE(table.map(0xFFFF'8000'1234'5000ULL, 0, 64 * KiB4, kRw).is_error());
    ASSERT_GT(pool.live_tables(), 4u);
    table.destroy();
    EXPECT_EQ(pool.live_tables(), 0u);
}

// Model-checked random operations over a 16 MiB window straddling a 1 GiB boundary, with
// 2 MiB-biased sizes so that large pages get created, split and replaced all the time.
TEST(PageTable, RandomOperationsMatchAReferenceModel) {
    TablePool pool(512);
    auto table = make_table(pool, LargePages{true, true});
    constexpr uint64_t kWindow = GiB1 - 8 * MiB2;
    constexpr uint64_t kWindowPages = 16 * MiB2 / KiB4;
    struct Expected {
        uint64_t physical;
        Attributes attributes;
    };
    std::map<uint64_t, Expected> model; // page index -> mapping
    std::mt19937_64 random(20261123);
    const Attributes choices[] = {
        kRw, kRx, kUserRwUc, {false, false, false, CacheMode::write_combining}};

    size_t large_seen = 0;
    for (int step = 0; step < 400; ++step) {
        const bool large = random() % 2;
        const uint64_t unit = large ? MiB2 / KiB4 : 1;
        const uint64_t first = (random() % (kWindowPages / unit)) * unit + (large ? 0 : 0);
        uint64_t count = (1 + random() % (large ? 4 : 700)) * unit;
        if (random() % 4 == 0)
            count += random() % 5; // ragged end
        if (first + count > kWindowPages)
            count = kWindowPages - first;
        const uint64_t virt = kWindow + first * KiB4;
        const Attributes attributes = choices[random() % 4];
        switch (random() % 3) {
        case 0: {
            // Physical either congruent to virt modulo 2 MiB (large pages possible) or not.
            const uint64_t physical =
                (random() % 64) * MiB2 +
                (random() % 3 == 0 ? (random() % 512) * KiB4 : first % 512 * KiB4);
            ASSERT_FALSE(table.map(virt, physical, count * KiB4, attributes).is_error());
            for (uint64_t i = 0; i < count; ++i)
                model[first + i] = Expected{physical + i * KiB4, attributes};
            break;
        }
        case 1:
            ASSERT_FALSE(table.unmap(virt, count * KiB4).is_error());
            for (uint64_t i = 0; i < count; ++i)
                model.erase(first + i);
            break;
        case 2: {
            bool all_mapped = true;
            for (uint64_t i = 0; i < count && all_mapped; ++i)
                all_mapped = model.count(first + i) != 0;
            auto result = table.protect(virt, count * KiB4, attributes);
            ASSERT_EQ(result.is_error(), !all_mapped);
            if (all_mapped) {
                for (uint64_t i = 0; i < count; ++i)
                    model[first + i].attributes = attributes;
            }
            break;
        }
        }
        for (uint64_t page = 0; page < kWindowPages; ++page) {
            auto translation = table.lookup(kWindow + page * KiB4 + 8);
            auto expected = model.find(page);
            if (expected == model.end()) {
                ASSERT_FALSE(translation.has_value()) << "step " << step << " page " << page;
                continue;
            }
            ASSERT_TRUE(translation.has_value()) << "step " << step << " page " << page;
            ASSERT_EQ(translation->physical, expected->second.physical + 8) << "step " << step;
            ASSERT_EQ(translation->attributes, expected->second.attributes) << "step " << step;
            // A large page must really be uniform in the model.
            const uint64_t size_pages = bytes(translation->page_size) / KiB4;
            large_seen += size_pages > 1;
            if (size_pages > 1 && page % size_pages == 0) {
                for (uint64_t i = 1; i < size_pages && page + i < kWindowPages; ++i) {
                    auto other = model.find(page + i);
                    ASSERT_NE(other, model.end());
                    ASSERT_EQ(other->second.physical, expected->second.physical + i * KiB4);
                }
            }
        }
        // Nothing may leak outside the window.
        ASSERT_FALSE(table.lookup(kWindow - KiB4).has_value());
        ASSERT_FALSE(table.lookup(kWindow + kWindowPages * KiB4).has_value());
    }
    EXPECT_GT(large_seen, 100000u); // the run really exercised 2 MiB pages
    ASSERT_FALSE(table.unmap(kWindow, kWindowPages * KiB4).is_error());
    EXPECT_EQ(pool.live_tables(), 1u);
}

TEST(EptFormat, LeafBitsAndRoundTrip) {
    const CacheMode modes[] = {CacheMode::write_back, CacheMode::write_through, CacheMode::uncached,
                               CacheMode::write_combining, CacheMode::write_protected};
    for (int level = 0; level <= 2; ++level) {
        const uint64_t physical = 0x2468ULL << (12 + 9 * level);
        for (int bits = 0; bits < 4; ++bits) {
            for (CacheMode mode : modes) {
                const Attributes attributes{(bits & 1) != 0, (bits & 2) != 0, false, mode};
                const uint64_t entry = EptFormat::make_leaf(physical, attributes, level);
                EXPECT_TRUE(entry & 1); // always readable
                EXPECT_EQ((entry >> 1) & 1, uint64_t(attributes.writable));
                EXPECT_EQ((entry >> 2) & 1, uint64_t(attributes.executable));
                EXPECT_EQ((entry >> 7) & 1, uint64_t(level > 0));
                EXPECT_EQ((entry >> 6) & 1, 0u); // guest PAT still applies
                EXPECT_EQ(EptFormat::address(entry, level), physical);
                EXPECT_EQ(EptFormat::attributes(entry, level), attributes);
            }
        }
    }
    EXPECT_EQ((EptFormat::make_leaf(0, kRw, 0) >> 3) & 7, 6u); // WB
    EXPECT_EQ(
        (EptFormat::make_leaf(0, {true, false, false, CacheMode::uncached_minus}, 0) >> 3) & 7, 0u);
    EXPECT_EQ(EptFormat::make_table(0x5000), 0x5007u);
}

// The same walker drives EPT: large pages, splitting and table reclamation work unchanged.
TEST(EptPageTable, SameWalkerDifferentFormat) {
    TablePool pool(64);
    auto created =
        EptTable::create(PoolMemory{&pool}, PoolAllocator{&pool}, LargePages{true, true});
    ASSERT_FALSE(created.is_error());
    auto table = created.release_value();
    ASSERT_FALSE(table.map(0, 0, GiB1 + MiB2, kRw).is_error()); // guest RAM
    auto low = table.lookup(0x1234);
    ASSERT_TRUE(low);
    EXPECT_EQ(low->page_size, PageSize::size_1g);
    ASSERT_FALSE(table.protect(0xA0000, 0x20000, kRx).is_error());
    auto vga = table.lookup(0xA5000);
    ASSERT_TRUE(vga);
    EXPECT_EQ(vga->page_size, PageSize::size_4k);
    EXPECT_EQ(vga->attributes, kRx);
    EXPECT_EQ(vga->physical, 0xA5000u);
    auto after = table.lookup(0xC0000);
    ASSERT_TRUE(after);
    EXPECT_EQ(after->attributes, kRw);
    auto second = table.lookup(GiB1 + 0x10);
    ASSERT_TRUE(second);
    EXPECT_EQ(second->page_size, PageSize::size_2m);
    ASSERT_FALSE(table.unmap(0, GiB1 + MiB2).is_error());
    EXPECT_EQ(pool.live_tables(), 1u);
    table.destroy();
    EXPECT_EQ(pool.live_tables(), 0u);
}
