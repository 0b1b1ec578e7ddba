#include "mm/heap.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <gtest/gtest.h>
#include <map>
#include <random>
#include <thread>
#include <vector>

using namespace halcyon;
using namespace halcyon::mm;
using handoff::MemoryRegion;
using handoff::MemoryType;

namespace {

constexpr uint64_t MiB = 1ULL << 20;

// A frame allocator over fake physical memory [16 MiB, 16 MiB + size), backed by a 2 MiB-aligned
// host buffer so that virtual alignment (which the heap masks) matches physical alignment.
class FakeMachine {
public:
    static constexpr uint64_t kBase = 16 * MiB;

    explicit FakeMachine(uint64_t size)
        : map_{MemoryRegion{kBase, size / kPageSize, MemoryType::usable, 0, 0}},
          storage_(FrameAllocator::metadata_words(map_)),
          buffer_(std::aligned_alloc(2 * MiB, (size + 2 * MiB - 1) / (2 * MiB) * (2 * MiB))),
          window_(PhysicalWindow::for_buffer(buffer_, kBase)),
          frames_(
              FrameAllocator::create(map_, MetadataPlacement::external(storage_)).release_value()) {
        std::memset(buffer_, 0x5A, size);
    }
    ~FakeMachine() { std::free(buffer_); }

    FrameAllocator& frames() { return frames_; }
    PhysicalWindow window() const { return window_; }
    void* buffer() const { return buffer_; }

private:
    std::vector<MemoryRegion> map_;
    std::vector<uint64_t> storage_;
    void* buffer_;
    PhysicalWindow window_;
    FrameAllocator frames_;
};

} // namespace

TEST(Heap, WindowIsBlockAligned) {
    FakeMachine machine(4 * MiB);
    EXPECT_EQ(machine.window().offset() % Heap::kBlockSize, 0u);
}

TEST(Heap, SmallAllocationsAreAlignedDistinctAndUsable) {
    FakeMachine machine(8 * MiB);
    Heap heap(machine.frames(), machine.window());
    std::vector<std::pair<uint8_t*, size_t>> blocks;
    for (size_t size = 1; size <= 2048; size = size * 3 / 2 + 1) {
        for (int copy = 0; copy < 5; ++copy) {
            auto* p = static_cast<uint8_t*>(heap.allocate(size));
            ASSERT_NE(p, nullptr);
            EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u);
            EXPECT_GE(heap.allocation_size(p), size);
            std::memset(p, static_cast<int>(blocks.size()), size);
            blocks.push_back({p, size});
        }
    }
    for (size_t i = 0; i < blocks.size(); ++i) {
        for (size_t j = 0; j < blocks[i].second; ++j)
            ASSERT_EQ(blocks[i].first[j], static_cast<uint8_t>(i)) << "overlap in block " << i;
    }
    const HeapStats stats = heap.stats();
    EXPECT_EQ(stats.live_allocations, blocks.size());
    for (auto& [p, size] : blocks)
        ASSERT_FALSE(heap.deallocate(p).is_error());
    EXPECT_EQ(heap.stats().live_allocations, 0u);
    EXPECT_EQ(heap.stats().bytes_in_use, 0u);
}

TEST(Heap, HonoursAlignmentUpToOnePage) {
    FakeMachine machine(8 * MiB);
    Heap heap(machine.frames(), machine.window());
    for (size_t alignment = 1; alignment <= 4096; alignment *= 2) {
        for (size_t size : {size_t(1), size_t(24), size_t(100), size_t(3000), size_t(9000)}) {
            void* p = heap.allocate(size, alignment);
            ASSERT_NE(p, nullptr);
            EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % alignment, 0u) << size << "/" << alignment;
            std::memset(p, 1, size);
            ASSERT_FALSE(heap.deallocate(p).is_error());
        }
    }
    EXPECT_EQ(heap.allocate(16, 8192), nullptr);
    EXPECT_EQ(heap.allocate(16, 24), nullptr);
    EXPECT_EQ(heap.allocate(16, 0), nullptr);
}

TEST(Heap, LargeAllocationsUseWholePagesAndGiveThemBack) {
    FakeMachine machine(8 * MiB);
    Heap heap(machine.frames(), machine.window());
    const size_t initial = machine.frames().free_pages();
    auto* p = static_cast<uint8_t*>(heap.allocate(100 * 1024));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kPageSize, 0u);
    EXPECT_EQ(heap.allocation_size(p), 100u * 1024);
    std::memset(p, 0xEE, 100 * 1024);
    EXPECT_EQ(machine.frames().free_pages(), initial - 26); // 25 pages + header page
    EXPECT_EQ(heap.stats().large_pages, 26u);
    ASSERT_FALSE(heap.deallocate(p).is_error());
    EXPECT_EQ(machine.frames().free_pages(), initial);
    EXPECT_EQ(heap.stats().large_pages, 0u);
}

TEST(Heap, DetectsDoubleFreeAndForeignPointers) {
    FakeMachine machine(8 * MiB);
    Heap heap(machine.frames(), machine.window());
    auto* a = static_cast<uint8_t*>(heap.allocate(64));
    auto* b = static_cast<uint8_t*>(heap.allocate(64));
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    ASSERT_FALSE(heap.deallocate(a).is_error());
    auto twice = heap.deallocate(a);
    ASSERT_TRUE(twice.is_error());
    EXPECT_EQ(twice.error().code(), ErrorCode::corrupt);
    // Inside an object.
    EXPECT_EQ(heap.deallocate(b + 8).error().code(), ErrorCode::invalid_argument);
    // Not heap memory at all: a stack variable and unallocated fake physical memory.
    int local = 0;
    EXPECT_EQ(heap.deallocate(&local).error().code(), ErrorCode::invalid_argument);
    auto* unallocated = static_cast<uint8_t*>(machine.buffer()) + 6 * MiB;
    EXPECT_EQ(heap.deallocate(unallocated).error().code(), ErrorCode::invalid_argument);
    // A frame someone else allocated (readable, but without our header).
    auto other = machine.frames().allocate(4, 4);
    ASSERT_FALSE(other.is_error());
    EXPECT_EQ(heap.deallocate(machine.window().to_virtual(other.value() + 64)).error().code(),
              ErrorCode::invalid_argument);
    // Large: interior pointer, then double free after the pages went back.
    auto* large = static_cast<uint8_t*>(heap.allocate(3 * kPageSize));
    ASSERT_NE(large, nullptr);
    EXPECT_EQ(heap.deallocate(large + kPageSize).error().code(), ErrorCode::invalid_argument);
    ASSERT_FALSE(heap.deallocate(large).is_error());
    EXPECT_TRUE(heap.deallocate(large).is_error());
    EXPECT_EQ(heap.stats().rejected_frees, 7u);
    EXPECT_EQ(heap.allocation_size(a), 0u);
    EXPECT_EQ(heap.allocation_size(b), 64u);
    EXPECT_FALSE(heap.deallocate(nullptr).is_error());
    ASSERT_FALSE(heap.deallocate(b).is_error());
}

TEST(Heap, ExhaustionReturnsNullAndRecovers) {
    FakeMachine machine(1 * MiB);
    Heap heap(machine.frames(), machine.window());
    std::vector<void*> live;
    while (void* p = heap.allocate(1000))
        live.push_back(p);
    EXPECT_GT(live.size(), 100u);
    EXPECT_EQ(heap.allocate(64 * 1024), nullptr);
    EXPECT_GE(heap.stats().failed_allocations, 2u);
    for (void* p : live)
        ASSERT_FALSE(heap.deallocate(p).is_error());
    heap.release_cached();
    EXPECT_EQ(machine.frames().free_pages(), machine.frames().total_pages());
    EXPECT_NE(heap.allocate(64 * 1024), nullptr);
}

TEST(Heap, EmptySlabsGoBackToTheFrameAllocator) {
    FakeMachine machine(8 * MiB);
    Heap heap(machine.frames(), machine.window());
    const size_t initial = machine.frames().free_pages();
    std::vector<void*> live;
    for (int i = 0; i < 2000; ++i)
        live.push_back(heap.allocate(32));
    EXPECT_LT(machine.frames().free_pages(), initial);
    for (void* p : live)
        ASSERT_FALSE(heap.deallocate(p).is_error());
    // At most one empty slab per class stays cached.
    EXPECT_EQ(heap.stats().slab_pages, Heap::kBlockSize / kPageSize);
    heap.release_cached();
    EXPECT_EQ(heap.stats().slab_pages, 0u);
    EXPECT_EQ(machine.frames().free_pages(), initial);
}

TEST(Heap, RandomWorkloadKeepsContentsIntact) {
    FakeMachine machine(16 * MiB);
    Heap heap(machine.frames(), machine.window());
    std::mt19937_64 random(0xC0FFEE);
    struct Live {
        size_t size;
        uint8_t pattern;
    };
    std::map<uint8_t*, Live> live;
    const size_t initial = machine.frames().free_pages();
    for (int step = 0; step < 30000; ++step) {
        if (live.empty() || random() % 100 < 52) {
            const size_t size = random() % 8 == 0 ? 1 + random() % 20000 : 1 + random() % 600;
            const size_t alignment = size_t(1) << (random() % 13);
            auto* p = static_cast<uint8_t*>(heap.allocate(size, alignment));
            if (!p)
                continue; // exhaustion is allowed, corruption is not
            ASSERT_EQ(reinterpret_cast<uintptr_t>(p) % alignment, 0u);
            ASSERT_GE(heap.allocation_size(p), size);
            const auto pattern = static_cast<uint8_t>(random());
            std::memset(p, pattern, size);
            ASSERT_TRUE(live.emplace(p, Live{size, pattern}).second);
        } else {
            auto it = live.begin();
            std::advance(it, random() % live.size());
            for (size_t i = 0; i < it->second.size; ++i)
                ASSERT_EQ(it->first[i], it->second.pattern) << "corrupted at step " << step;
            ASSERT_FALSE(heap.deallocate(it->first).is_error());
            if (step % 11 == 0)
                ASSERT_TRUE(heap.deallocate(it->first).is_error());
            live.erase(it);
        }
        ASSERT_EQ(heap.stats().live_allocations, live.size());
    }
    for (auto& [p, info] : live) {
        for (size_t i = 0; i < info.size; ++i)
            ASSERT_EQ(p[i], info.pattern);
        ASSERT_FALSE(heap.deallocate(p).is_error());
    }
    heap.release_cached();
    EXPECT_EQ(heap.stats().bytes_in_use, 0u);
    EXPECT_EQ(machine.frames().free_pages(), initial);
}

TEST(Heap, ConcurrentUseFromSeveralThreads) {
    FakeMachine machine(16 * MiB);
    Heap heap(machine.frames(), machine.window());
    const size_t initial = machine.frames().free_pages();
    std::vector<std::thread> threads;
    std::atomic<int> ready = 0; // start together, so the threads really overlap
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&heap, &ready, t] {
            ready.fetch_add(1);
            while (ready.load() < 4) {
            }
            std::mt19937 random(100 + t);
            std::vector<std::pair<uint8_t*, size_t>> mine;
            for (int i = 0; i < 20000; ++i) {
                if (mine.empty() || random() % 2 == 0) {
                    const size_t size = 1 + random() % (random() % 16 == 0 ? 10000 : 300);
                    auto* p = static_cast<uint8_t*>(heap.allocate(size));
                    if (!p)
                        continue;
                    std::memset(p, t + 1, size);
                    mine.push_back({p, size});
                } else {
                    auto [p, size] = mine.back();
                    mine.pop_back();
                    for (size_t j = 0; j < size; ++j) {
                        if (p[j] != t + 1)
                            std::abort(); // another thread wrote into this allocation
                    }
                    if (heap.deallocate(p).is_error())
                        std::abort();
                }
            }
            for (auto [p, size] : mine) {
                if (heap.deallocate(p).is_error())
                    std::abort();
            }
        });
    }
    for (auto& thread : threads)
        thread.join();
    EXPECT_EQ(heap.stats().live_allocations, 0u);
    heap.release_cached();
    EXPECT_EQ(machine.frames().free_pages(), initial);
}
