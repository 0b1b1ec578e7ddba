// EPT tables (mm/ept.hpp) and the format-selecting guest-physical table (mm/ept_or_npt.hpp), over
// a host buffer standing in for physical memory.
#include "mm/ept_or_npt.hpp"

#include <cstdlib>
#include <cstring>
#include <gtest/gtest.h>
#include <vector>

using namespace halcyon;
using namespace halcyon::mm;

namespace {

constexpr uint64_t MiB = 1ULL << 20;
constexpr uint64_t kBase = 16 * MiB;
constexpr uint64_t kSize = 8 * MiB;

class FakeMemory {
public:
    FakeMemory()
        : map_{handoff::MemoryRegion{kBase, kSize / kPageSize, handoff::MemoryType::usable, 0, 0}},
          storage_(FrameAllocator::metadata_words(map_)),
          buffer_(std::aligned_alloc(2 * MiB, kSize)),
          window_(PhysicalWindow::for_buffer(buffer_, kBase)),
          frames_(
              FrameAllocator::create(map_, MetadataPlacement::external(storage_)).release_value()) {
        std::memset(buffer_, 0xA5, kSize);
    }
    ~FakeMemory() { std::free(buffer_); }

    FrameAllocator& frames() { return frames_; }
    PhysicalWindow window() const { return window_; }

private:
    handoff::MemoryRegion map_[1];
    std::vector<uint64_t> storage_;
    void* buffer_;
    PhysicalWindow window_;
    FrameAllocator frames_;
};

// Follows the EPT from the root to the entry that maps `gpa` at `level` (3 = PML4).
uint64_t entry_at(const FakeMemory& memory, uint64_t root, uint64_t gpa, int level) {
    uint64_t table = root;
    for (int l = 3;; --l) {
        const uint64_t entry =
            memory.window().to_virtual<uint64_t>(table)[(gpa >> (12 + 9 * l)) & 511];
        if (l == level)
            return entry;
        table = entry & 0x000F'FFFF'FFFF'F000ull;
    }
}

} // namespace

TEST(ExtendedPageTable, GuestMemoryIsWriteBackRwxInLargePages) {
    FakeMemory memory;
    auto ept = ExtendedPageTable::create(memory.frames(), memory.window()).release_value();
    const uint64_t chunk = memory.frames().allocate(512, 512).release_value();
    ASSERT_FALSE(ept.map(0, chunk, 2 * MiB, kGuestMemory).is_error());
    const auto translation = ept.lookup(0x1234);
    ASSERT_TRUE(translation.has_value());
    EXPECT_EQ(translation->physical, chunk + 0x1234);
    EXPECT_EQ(translation->page_size, PageSize::size_2m);
    // The 2 MiB leaf: read, write, execute, memory type WB (6) in bits 5:3, large page (bit 7),
    // "ignore PAT" clear.
    const uint64_t leaf = entry_at(memory, ept.root(), 0, 1);
    EXPECT_EQ(leaf & 0xFF, 0x7u | (6u << 3) | (1u << 7));
    EXPECT_EQ(leaf & 0x000F'FFFF'FFFF'F000ull, chunk);
    // Non-leaf entries grant everything; the leaf decides.
    EXPECT_EQ(entry_at(memory, ept.root(), 0, 3) & 0x7, 0x7u);
    EXPECT_FALSE(ept.lookup(2 * MiB).has_value());
    ept.destroy();
}

TEST(ExtendedPageTable, ReadOnlyPagesAreReadableAndExecutableOnly) {
    FakeMemory memory;
    auto ept = ExtendedPageTable::create(memory.frames(), memory.window()).release_value();
    const uint64_t page = memory.frames().allocate(1).release_value();
    ASSERT_FALSE(ept.map(0xFEB0'0000, page, kPageSize, kGuestReadOnly).is_error());
    const uint64_t leaf = entry_at(memory, ept.root(), 0xFEB0'0000, 0);
    EXPECT_EQ(leaf & 0x7, 0x5u) << "R and X, not W";
    EXPECT_EQ((leaf >> 3) & 7, 6u);
    ASSERT_FALSE(ept.unmap(0xFEB0'0000, kPageSize).is_error());
    EXPECT_FALSE(ept.lookup(0xFEB0'0000).has_value());
    ept.destroy();
}

TEST(ExtendedPageTable, OneGigabytePagesWhenTheCpuWalksThem) {
    FakeMemory memory;
    auto ept = ExtendedPageTable::create(memory.frames(), memory.window(),
                                         LargePages{.size_2m = true, .size_1g = true})
                   .release_value();
    // Map 1 GiB of guest-physical space onto host-physical 1 GiB (the tables only, nothing is
    // touched there).
    ASSERT_FALSE(ept.map(1ull << 30, 1ull << 30, 1ull << 30, kGuestMemory).is_error());
    EXPECT_EQ(ept.lookup((1ull << 30) + 5)->page_size, PageSize::size_1g);
    EXPECT_NE(entry_at(memory, ept.root(), 1ull << 30, 2) & (1u << 7), 0u);
    ept.destroy();
}

TEST(GuestPhysicalTable, TheFormatDecidesTheEntryBits) {
    FakeMemory memory;
    auto npt = GuestPhysicalTable::create(NestedFormat::npt, memory.frames(), memory.window())
                   .release_value();
    auto ept = GuestPhysicalTable::create(NestedFormat::ept, memory.frames(), memory.window())
                   .release_value();
    EXPECT_EQ(npt.format(), NestedFormat::npt);
    EXPECT_EQ(ept.format(), NestedFormat::ept);
    const uint64_t chunk = memory.frames().allocate(512, 512).release_value();
    ASSERT_FALSE(npt.map(0, chunk, 2 * MiB, kGuestMemory).is_error());
    ASSERT_FALSE(ept.map(0, chunk, 2 * MiB, kGuestMemory).is_error());
    EXPECT_EQ(npt.lookup(0x42)->physical, chunk + 0x42);
    EXPECT_EQ(ept.lookup(0x42)->physical, chunk + 0x42);
    // NPT leaves: present, writable, user (bits 0-2) and the page-size bit; no EPT memory type.
    const uint64_t npt_leaf = entry_at(memory, npt.root(), 0, 1);
    EXPECT_EQ(npt_leaf & 0x87, 0x87u);
    const uint64_t ept_leaf = entry_at(memory, ept.root(), 0, 1);
    EXPECT_EQ((ept_leaf >> 3) & 7, 6u);
    ASSERT_FALSE(ept.protect(0, 2 * MiB, kGuestReadOnly).is_error());
    EXPECT_FALSE(ept.lookup(0)->attributes.writable);
    ASSERT_FALSE(ept.unmap(0, 2 * MiB).is_error());
    EXPECT_FALSE(ept.lookup(0).has_value());
    npt.destroy();
    ept.destroy();
}
