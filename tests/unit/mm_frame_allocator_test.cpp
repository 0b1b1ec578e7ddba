#include "mm/frame_allocator.hpp"

#include <algorithm>
#include <atomic>
#include <gtest/gtest.h>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <vector>

using namespace halcyon;
using namespace halcyon::mm;
using handoff::MemoryRegion;
using handoff::MemoryType;

namespace {

constexpr uint64_t MiB = 1ULL << 20;
constexpr uint64_t GiB = 1ULL << 30;

MemoryRegion region(uint64_t base, uint64_t size, MemoryType type) {
    return MemoryRegion{base, size / kPageSize, type, 0, 0};
}

// A typical small PC: low memory, legacy hole, RAM with loader data and a reserved hole.
std::vector<MemoryRegion> pc_map() {
    return {
        region(0, 0x9F000, MemoryType::usable),
        region(0x9F000, 0x61000, MemoryType::reserved),
        region(1 * MiB, 7 * MiB, MemoryType::usable),
        region(8 * MiB, 2 * MiB, MemoryType::core_image),
        region(10 * MiB, 6 * MiB, MemoryType::usable),
        region(16 * MiB, 1 * MiB, MemoryType::boot_data),
        region(17 * MiB, 15 * MiB, MemoryType::usable),
        region(0xFEC00000, 0x1000, MemoryType::mmio),
    };
}

bool in_usable(const std::vector<MemoryRegion>& map, uint64_t physical) {
    for (const auto& r : map) {
        if (r.type == MemoryType::usable && physical >= r.physical_base &&
            physical < r.physical_base + r.page_count * kPageSize)
            return true;
    }
    return false;
}

struct External {
    explicit External(std::span<const MemoryRegion> map)
        : storage(FrameAllocator::metadata_words(map)) {}
    std::vector<uint64_t> storage;
    MetadataPlacement placement() { return MetadataPlacement::external(storage); }
};

} // namespace

TEST(FrameAllocator, CountsOnlyUsableMemoryAboveOneMiB) {
    const auto map = pc_map();
    External external(map);
    auto allocator = FrameAllocator::create(map, external.placement());
    ASSERT_FALSE(allocator.is_error());
    const size_t expected = (7 + 6 + 15) * MiB / kPageSize;
    EXPECT_EQ(allocator.value().total_pages(), expected);
    EXPECT_EQ(allocator.value().free_pages(), expected);
    EXPECT_FALSE(allocator.value().is_managed(0));
    EXPECT_FALSE(allocator.value().is_managed(0x8000));
    EXPECT_FALSE(allocator.value().is_managed(8 * MiB));
    EXPECT_TRUE(allocator.value().is_managed(1 * MiB));
    EXPECT_EQ(allocator.value().metadata_bytes(), 0u);
}

TEST(FrameAllocator, NeverHandsOutLowMemoryOrReservedPages) {
    const auto map = pc_map();
    External external(map);
    auto created = FrameAllocator::create(map, external.placement());
    ASSERT_FALSE(created.is_error());
    auto& allocator = created.value();
    std::set<uint64_t> seen;
    while (true) {
        auto page = allocator.allocate();
        if (page.is_error()) {
            EXPECT_EQ(page.error().code(), ErrorCode::out_of_memory);
            break;
        }
        const uint64_t physical = page.value();
        EXPECT_GE(physical, kLowMemoryLimit);
        EXPECT_EQ(physical % kPageSize, 0u);
        EXPECT_TRUE(in_usable(map, physical)) << std::hex << physical;
        EXPECT_TRUE(seen.insert(physical).second) << "handed out twice: " << std::hex << physical;
    }
    EXPECT_EQ(seen.size(), allocator.total_pages());
    EXPECT_EQ(allocator.free_pages(), 0u);
}

TEST(FrameAllocator, CarvesBitmapsOutOfUsableMemoryAndNeverHandsThemOut) {
    // 4 GiB of RAM above a hole: the bitmaps (2 bits per frame from 1 MiB to 5 GiB) take 320 KiB
    // and land at the start of the first usable region above 1 MiB that can hold them.
    const std::vector<MemoryRegion> map = {
        region(0, 0x9F000, MemoryType::usable),
        region(1 * MiB, 0x10000, MemoryType::usable), // too small for the bitmaps
        region(2 * MiB, 2 * MiB, MemoryType::usable),
        region(4 * GiB, 1 * GiB, MemoryType::usable),
    };
    std::vector<uint8_t> buffer(1 * MiB, 0xAA);
    const auto window = PhysicalWindow::for_buffer(buffer.data(), 2 * MiB);
    auto created = FrameAllocator::create(map, MetadataPlacement::carve(window));
    ASSERT_FALSE(created.is_error());
    auto& allocator = created.value();
    const uint64_t words = FrameAllocator::metadata_words(map);
    EXPECT_EQ(allocator.metadata_physical(), 2 * MiB);
    EXPECT_EQ(allocator.metadata_bytes(), (words * 8 + kPageSize - 1) / kPageSize * kPageSize);
    const uint64_t metadata_pages = allocator.metadata_bytes() / kPageSize;
    EXPECT_EQ(allocator.total_pages(), (0x10000 + 2 * MiB + 1 * GiB) / kPageSize - metadata_pages);
    EXPECT_FALSE(allocator.is_managed(2 * MiB));
    EXPECT_TRUE(allocator.is_managed(2 * MiB + allocator.metadata_bytes()));
    // Freeing the bitmap pages is refused.
    auto result = allocator.free(2 * MiB, 1);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ErrorCode::permission);
    // Drain everything below 4 GiB: none of it overlaps the bitmaps.
    for (size_t i = 0; i < (0x10000 + 2 * MiB) / kPageSize - metadata_pages; ++i) {
        auto page = allocator.allocate();
        ASSERT_FALSE(page.is_error());
        EXPECT_TRUE(page.value() < 2 * MiB || page.value() >= 2 * MiB + allocator.metadata_bytes());
        EXPECT_LT(page.value(), 4 * GiB);
    }
    auto high = allocator.allocate();
    ASSERT_FALSE(high.is_error());
    EXPECT_EQ(high.value(), 4 * GiB);
}

TEST(FrameAllocator, RejectsMapsWithoutUsableMemory) {
    const std::vector<MemoryRegion> low_only = {region(0, 0x9F000, MemoryType::usable),
                                                region(1 * MiB, 1 * MiB, MemoryType::reserved)};
    std::vector<uint64_t> storage(16);
    auto result = FrameAllocator::create(low_only, MetadataPlacement::external(storage));
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ErrorCode::out_of_memory);
}

TEST(FrameAllocator, RejectsTooSmallExternalStorage) {
    const auto map = pc_map();
    std::vector<uint64_t> storage(FrameAllocator::metadata_words(map) - 1);
    auto result = FrameAllocator::create(map, MetadataPlacement::external(storage));
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ErrorCode::invalid_argument);
}

TEST(FrameAllocator, ContiguousAlignedRuns) {
    const auto map = pc_map();
    External external(map);
    auto created = FrameAllocator::create(map, external.placement());
    ASSERT_FALSE(created.is_error());
    auto& allocator = created.value();
    auto one = allocator.allocate(1);
    ASSERT_FALSE(one.is_error());
    // A 2 MiB-aligned run of 512 pages: must sit inside one usable region.
    auto big = allocator.allocate(512, 512);
    ASSERT_FALSE(big.is_error());
    EXPECT_EQ(big.value() % (2 * MiB), 0u);
    for (uint64_t p = big.value(); p < big.value() + 2 * MiB; p += kPageSize) {
        EXPECT_TRUE(in_usable(map, p));
        EXPECT_TRUE(allocator.is_allocated(p));
    }
    // A run larger than the biggest region (15 MiB) cannot exist.
    auto too_big = allocator.allocate(16 * MiB / kPageSize);
    ASSERT_TRUE(too_big.is_error());
    EXPECT_EQ(too_big.error().code(), ErrorCode::out_of_memory);
    // Bad parameters.
    EXPECT_EQ(allocator.allocate(0).error().code(), ErrorCode::invalid_argument);
    EXPECT_EQ(allocator.allocate(1, 3).error().code(), ErrorCode::invalid_argument);
    EXPECT_EQ(allocator.allocate(1, 0).error().code(), ErrorCode::invalid_argument);
}

TEST(FrameAllocator, DetectsDoubleFreeAndForeignFrees) {
    const auto map = pc_map();
    External external(map);
    auto created = FrameAllocator::create(map, external.placement());
    ASSERT_FALSE(created.is_error());
    auto& allocator = created.value();
    const size_t initial = allocator.free_pages();
    auto run = allocator.allocate(4);
    ASSERT_FALSE(run.is_error());
    EXPECT_EQ(allocator.free_pages(), initial - 4);

    EXPECT_FALSE(allocator.free(run.value(), 2).is_error());
    EXPECT_EQ(allocator.free_pages(), initial - 2);
    // Freeing all four again: the first two are free already, nothing may change.
    auto again = allocator.free(run.value(), 4);
    ASSERT_TRUE(again.is_error());
    EXPECT_EQ(again.error().code(), ErrorCode::corrupt);
    EXPECT_EQ(allocator.free_pages(), initial - 2);
    EXPECT_TRUE(allocator.is_allocated(run.value() + 2 * kPageSize));

    EXPECT_EQ(allocator.free(0x9000, 1).error().code(), ErrorCode::permission);   // low memory
    EXPECT_EQ(allocator.free(8 * MiB, 1).error().code(), ErrorCode::permission);  // core image
    EXPECT_EQ(allocator.free(64 * GiB, 1).error().code(), ErrorCode::permission); // beyond RAM
    EXPECT_EQ(allocator.free(run.value() + 1, 1).error().code(), ErrorCode::invalid_argument);
    EXPECT_EQ(allocator.free(run.value(), 0).error().code(), ErrorCode::invalid_argument);
    // A run that ends in reserved memory is refused as a whole.
    EXPECT_EQ(allocator.free(8 * MiB - kPageSize, 2).error().code(), ErrorCode::permission);
    EXPECT_FALSE(allocator.free(run.value() + 2 * kPageSize, 2).is_error());
    EXPECT_EQ(allocator.free_pages(), initial);
}

TEST(FrameAllocator, ReserveTakesSpecificPages) {
    const auto map = pc_map();
    External external(map);
    auto created = FrameAllocator::create(map, external.placement());
    ASSERT_FALSE(created.is_error());
    auto& allocator = created.value();
    const size_t initial = allocator.free_pages();
    EXPECT_FALSE(allocator.reserve(1 * MiB, 16).is_error());
    EXPECT_EQ(allocator.free_pages(), initial - 16);
    EXPECT_EQ(allocator.reserve(1 * MiB + 15 * kPageSize, 2).error().code(), ErrorCode::busy);
    EXPECT_EQ(allocator.reserve(8 * MiB, 1).error().code(), ErrorCode::permission);
    EXPECT_EQ(allocator.free_pages(), initial - 16);
    auto page = allocator.allocate();
    ASSERT_FALSE(page.is_error());
    EXPECT_GE(page.value(), 1 * MiB + 16 * kPageSize);
    EXPECT_FALSE(allocator.free(1 * MiB, 16).is_error());
}

TEST(FrameAllocator, OverlappingReservedRegionWins) {
    // Malformed (unsorted, overlapping) map: the reserved hole inside the usable region must
    // stay untouched.
    const std::vector<MemoryRegion> map = {
        region(4 * MiB, 1 * MiB, MemoryType::reserved),
        region(2 * MiB, 8 * MiB, MemoryType::usable),
    };
    External external(map);
    auto created = FrameAllocator::create(map, external.placement());
    ASSERT_FALSE(created.is_error());
    auto& allocator = created.value();
    EXPECT_EQ(allocator.total_pages(), 7 * MiB / kPageSize);
    while (true) {
        auto page = allocator.allocate();
        if (page.is_error())
            break;
        EXPECT_TRUE(page.value() < 4 * MiB || page.value() >= 5 * MiB);
    }
}

TEST(FrameAllocator, RandomAllocFreeKeepsInvariants) {
    const auto map = pc_map();
    External external(map);
    auto created = FrameAllocator::create(map, external.placement());
    ASSERT_FALSE(created.is_error());
    auto& allocator = created.value();
    const size_t total = allocator.total_pages();

    std::mt19937_64 random(0x4A1C0);
    std::map<uint64_t, size_t> live; // physical -> pages
    std::set<uint64_t> owned_pages;
    size_t live_pages = 0;
    for (int step = 0; step < 20000; ++step) {
        const bool do_allocate = live.empty() || random() % 100 < 55;
        if (do_allocate) {
            const size_t pages = 1 + random() % 24;
            const size_t alignment = size_t(1) << (random() % 6);
            auto result = allocator.allocate(pages, alignment);
            if (result.is_error()) {
                EXPECT_EQ(result.error().code(), ErrorCode::out_of_memory);
                continue;
            }
            const uint64_t physical = result.value();
            ASSERT_EQ((physical / kPageSize) % alignment, 0u);
            for (size_t i = 0; i < pages; ++i) {
                const uint64_t page = physical + i * kPageSize;
                ASSERT_TRUE(in_usable(map, page));
                ASSERT_GE(page, kLowMemoryLimit);
                ASSERT_TRUE(owned_pages.insert(page).second) << "overlap at " << std::hex << page;
            }
            live[physical] = pages;
            live_pages += pages;
        } else {
            auto it = live.begin();
            std::advance(it, random() % live.size());
            ASSERT_FALSE(allocator.free(it->first, it->second).is_error());
            for (size_t i = 0; i < it->second; ++i)
                owned_pages.erase(it->first + i * kPageSize);
            // Every so often try the same free again: must be caught.
            if (step % 7 == 0)
                ASSERT_EQ(allocator.free(it->first, it->second).error().code(), ErrorCode::corrupt);
            live_pages -= it->second;
            live.erase(it);
        }
        ASSERT_EQ(allocator.free_pages(), total - live_pages);
    }
    for (const auto& [physical, pages] : live)
        ASSERT_FALSE(allocator.free(physical, pages).is_error());
    EXPECT_EQ(allocator.free_pages(), total);
    // After everything is back, the largest region is allocatable in one piece again.
    EXPECT_FALSE(allocator.allocate(15 * MiB / kPageSize).is_error());
}

TEST(FrameAllocator, SparseMapAboveFourGiB) {
    const std::vector<MemoryRegion> map = {
        region(1 * MiB, 1 * MiB, MemoryType::usable),
        region(3 * GiB, 1 * GiB, MemoryType::reserved),
        region(64 * GiB, 2 * MiB, MemoryType::usable),
    };
    External external(map);
    // Bitmaps cover 1 MiB .. 64 GiB + 2 MiB: 2 bits per frame.
    EXPECT_EQ(external.storage.size(),
              2 * (((64 * GiB + 2 * MiB - 1 * MiB) / kPageSize + 63) / 64));
    auto created = FrameAllocator::create(map, external.placement());
    ASSERT_FALSE(created.is_error());
    auto& allocator = created.value();
    EXPECT_EQ(allocator.total_pages(), 3 * MiB / kPageSize);
    auto run = allocator.allocate(512, 512);
    ASSERT_FALSE(run.is_error());
    EXPECT_EQ(run.value(), 64 * GiB);
}

TEST(FrameAllocator, MoveKeepsState) {
    const auto map = pc_map();
    External external(map);
    auto created = FrameAllocator::create(map, external.placement());
    ASSERT_FALSE(created.is_error());
    auto page = created.value().allocate();
    ASSERT_FALSE(page.is_error());
    FrameAllocator moved(std::move(created.value()));
    EXPECT_TRUE(moved.is_allocated(page.value()));
    EXPECT_EQ(moved.free_pages(), moved.total_pages() - 1);
    EXPECT_FALSE(moved.free(page.value(), 1).is_error());
}

// The allocator's internal lock: several threads allocating and freeing at once must never get
// the same frame, and the counters must add up afterwards.
TEST(FrameAllocator, ConcurrentUseFromSeveralThreads) {
    const auto map = pc_map();
    External external(map);
    auto created = FrameAllocator::create(map, external.placement());
    ASSERT_FALSE(created.is_error());
    auto& allocator = created.value();
    constexpr int kThreads = 4;
    std::vector<std::vector<uint64_t>> kept(kThreads);
    std::vector<std::thread> threads;
    std::atomic<int> ready = 0; // start together, so the threads really overlap
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&allocator, &kept, &ready, t] {
            ready.fetch_add(1);
            while (ready.load() < 4) {
            }
            std::mt19937 random(t);
            std::vector<uint64_t> mine;
            for (int i = 0; i < 20000; ++i) {
                if (mine.empty() || random() % 3 != 0) {
                    auto page = allocator.allocate();
                    if (!page.is_error())
                        mine.push_back(page.value());
                } else {
                    if (allocator.free(mine.back(), 1).is_error())
                        std::abort();
                    mine.pop_back();
                }
            }
            kept[t] = std::move(mine);
        });
    }
    for (auto& thread : threads)
        thread.join();
    std::set<uint64_t> all;
    size_t count = 0;
    for (const auto& pages : kept) {
        count += pages.size();
        all.insert(pages.begin(), pages.end());
    }
    EXPECT_EQ(all.size(), count) << "a frame was handed to two threads";
    EXPECT_EQ(allocator.free_pages(), allocator.total_pages() - count);
    for (uint64_t page : all)
        ASSERT_FALSE(allocator.free(page, 1).is_error());
    EXPECT_EQ(allocator.free_pages(), allocator.total_pages());
}
