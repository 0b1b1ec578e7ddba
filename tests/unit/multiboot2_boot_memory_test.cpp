// The Multiboot2 stage's physical memory: free ranges from the BIOS map minus what is in use,
// top-down aligned allocation within a window, claims merged as allocations grow downwards.
#include "boot/multiboot2/boot_memory.hpp"

#include <gtest/gtest.h>

#include <memory>

using halcyon::ErrorCode;
using halcyon::handoff::MemoryType;
using halcyon::multiboot2::BootMemory;
using halcyon::multiboot2::PhysicalRange;

namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;
constexpr uint32_t kData = 0x8000'4803;
constexpr uint32_t kCore = 0x8000'4801;

std::unique_ptr<BootMemory> seabios_512m() {
    auto memory = std::make_unique<BootMemory>();
    EXPECT_FALSE(memory->add_available(0, 0x9FC00).is_error());
    EXPECT_FALSE(memory->add_available(0x100000, 0x1FEE0000).is_error());
    return memory;
}

bool free_is(const BootMemory& memory, std::initializer_list<PhysicalRange> expected) {
    auto ranges = memory.free_ranges();
    if (ranges.size() != expected.size())
        return false;
    size_t i = 0;
    for (const auto& range : expected) {
        if (ranges[i].base != range.base || ranges[i].end != range.end)
            return false;
        ++i;
    }
    return true;
}

TEST(Multiboot2BootMemory, AvailableRangesShrinkToWholePagesAndMerge) {
    auto memory = seabios_512m();
    // 0x9FC00 is not a page boundary: the partial page is not usable.
    EXPECT_TRUE(free_is(*memory, {{0, 0x9F000}, {0x100000, 0x1FFE0000}}));
    // Overlapping and adjacent additions merge; a sub-page range adds nothing.
    ASSERT_FALSE(memory->add_available(0x1FFE0000, 0x1000).is_error());
    ASSERT_FALSE(memory->add_available(0x1FF00000, 0x200000).is_error());
    ASSERT_FALSE(memory->add_available(0xA0100, 0x800).is_error());
    EXPECT_TRUE(free_is(*memory, {{0, 0x9F000}, {0x100000, 0x20100000}}));
    // A range covering a gap joins both sides.
    ASSERT_FALSE(memory->add_available(0x9E000, 0x62000).is_error());
    EXPECT_TRUE(free_is(*memory, {{0, 0x20100000}}));
}

TEST(Multiboot2BootMemory, ReservationsGrowToWholePagesAndSplitRanges) {
    auto memory = seabios_512m();
    ASSERT_FALSE(memory->reserve(0, 0x1000).is_error());
    ASSERT_FALSE(memory->reserve(0x100000, 0x11F123).is_error()); // the stage
    ASSERT_FALSE(memory->reserve(0x200010, 0x200020).is_error()); // inside one page
    EXPECT_TRUE(
        free_is(*memory, {{0x1000, 0x9F000}, {0x120000, 0x200000}, {0x201000, 0x1FFE0000}}));
    // Reserving across several ranges and outside all of them.
    ASSERT_FALSE(memory->reserve(0x90000, 0x130000).is_error());
    ASSERT_FALSE(memory->reserve(0x30000000, 0x40000000).is_error());
    EXPECT_TRUE(
        free_is(*memory, {{0x1000, 0x90000}, {0x130000, 0x200000}, {0x201000, 0x1FFE0000}}));
    EXPECT_TRUE(memory->claims().empty());
}

TEST(Multiboot2BootMemory, AllocatesTopDownAlignedWithinTheWindow) {
    auto memory = seabios_512m();
    auto page = memory->allocate(100, 4096, kMiB, 4 * kGiB, MemoryType::boot_data, kData);
    ASSERT_FALSE(page.is_error());
    EXPECT_EQ(page.value(), 0x1FFDF000u);
    // 2 MiB aligned: the highest 2 MiB boundary that leaves room below the top.
    auto core =
        memory->allocate(3 * kMiB + 5, 2 * kMiB, kMiB, 4 * kGiB, MemoryType::core_image, kCore);
    ASSERT_FALSE(core.is_error());
    EXPECT_EQ(core.value(), 0x1FC00000u);
    // Below 1 MiB, not page 0.
    auto low = memory->allocate(4096, 4096, 4096, kMiB, MemoryType::boot_data, kData);
    ASSERT_FALSE(low.is_error());
    EXPECT_EQ(low.value(), 0x9E000u);
    EXPECT_TRUE(free_is(*memory, {{0, 0x9E000}, {0x100000, 0x1FC00000}, {0x1FF01000, 0x1FFDF000}}));
}

TEST(Multiboot2BootMemory, ClaimsMergeWhenAllocationsGrowDownwards) {
    auto memory = seabios_512m();
    for (int i = 0; i < 10; ++i)
        ASSERT_FALSE(
            memory->allocate(4096, 4096, kMiB, 4 * kGiB, MemoryType::boot_data, kData).is_error());
    ASSERT_FALSE(
        memory->allocate(kMiB, 2 * kMiB, kMiB, 4 * kGiB, MemoryType::core_image, kCore).is_error());
    ASSERT_FALSE(
        memory->allocate(4096, 4096, kMiB, 4 * kGiB, MemoryType::boot_data, kData).is_error());
    auto claims = memory->claims();
    ASSERT_EQ(claims.size(), 3u);
    EXPECT_EQ(claims[0].base, 0x1FFE0000u - 10 * 4096);
    EXPECT_EQ(claims[0].size, 10u * 4096);
    EXPECT_EQ(claims[0].type, MemoryType::boot_data);
    EXPECT_EQ(claims[1].base, 0x1FE00000u);
    EXPECT_EQ(claims[1].type, MemoryType::core_image);
    EXPECT_EQ(claims[1].efi_type, kCore);
    // The next page comes from above the 2 MiB-aligned core (the gap it left), not below it.
    EXPECT_EQ(claims[2].base, 0x1FFE0000u - 11 * 4096);
}

TEST(Multiboot2BootMemory, ClaimsOfExistingMemory) {
    BootMemory memory;
    ASSERT_FALSE(memory.claim(0x200000, 0x3000, MemoryType::boot_module, 0x8000'4802).is_error());
    ASSERT_FALSE(memory.claim(0x203000, 0x1000, MemoryType::boot_module, 0x8000'4802).is_error());
    ASSERT_EQ(memory.claims().size(), 1u);
    EXPECT_EQ(memory.claims()[0].size, 0x4000u);
    EXPECT_TRUE(memory.claim(0x200800, 0x1000, MemoryType::boot_module, 0).is_error());
    EXPECT_TRUE(memory.claim(0x200000, 0, MemoryType::boot_module, 0).is_error());
    EXPECT_TRUE(memory.claim(~0ull - 0xFFF, 0x2000, MemoryType::boot_module, 0).is_error());
}

TEST(Multiboot2BootMemory, FailsCleanly) {
    auto memory = seabios_512m();
    auto too_big = memory->allocate(kGiB, 4096, kMiB, 4 * kGiB, MemoryType::boot_data, kData);
    ASSERT_TRUE(too_big.is_error());
    EXPECT_EQ(too_big.error().code(), ErrorCode::out_of_memory);
    EXPECT_TRUE(
        memory->allocate(4096, 3000, kMiB, 4 * kGiB, MemoryType::boot_data, kData).is_error());
    EXPECT_TRUE(memory->allocate(0, 4096, kMiB, 4 * kGiB, MemoryType::boot_data, kData).is_error());
    // A window the free memory does not reach.
    EXPECT_TRUE(
        memory->allocate(4096, 4096, 4 * kGiB, 8 * kGiB, MemoryType::boot_data, kData).is_error());
    EXPECT_TRUE(memory->claims().empty());
    EXPECT_TRUE(free_is(*memory, {{0, 0x9F000}, {0x100000, 0x1FFE0000}}));
}

TEST(Multiboot2BootMemory, TooManyRangesIsAnError) {
    BootMemory memory;
    for (size_t i = 0; i < BootMemory::kMaxFreeRanges; ++i)
        ASSERT_FALSE(memory.add_available(i * 0x2000, 0x1000).is_error());
    EXPECT_TRUE(memory.add_available(0x1000'0000, 0x1000).is_error());
    // So does a reservation that would split a range of a full list.
    BootMemory split;
    ASSERT_FALSE(split.add_available(0, 0x1000'0000).is_error());
    for (size_t i = 1; i < BootMemory::kMaxFreeRanges; ++i)
        ASSERT_FALSE(split.reserve(i * 0x2000, i * 0x2000 + 0x1000).is_error());
    EXPECT_TRUE(split.reserve(0x0800'0000, 0x0800'1000).is_error());
}

} // namespace
