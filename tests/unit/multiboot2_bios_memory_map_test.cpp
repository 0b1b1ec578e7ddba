// The core's memory map on BIOS machines: E820 entries rounded to pages (usable inward, the rest
// outward), overlaps resolved towards the restrictive type, the stage's claims laid over usable
// memory, and the errors for claims where they cannot be.
#include "boot/multiboot2/bios_memory_map.hpp"

#include <gtest/gtest.h>

#include <vector>

using halcyon::handoff::MemoryRegion;
using halcyon::handoff::MemoryType;
using halcyon::multiboot2::build_memory_map;
using halcyon::multiboot2::Claim;
using halcyon::multiboot2::classify_bios_memory_type;
using halcyon::multiboot2::FirmwareRegion;
using halcyon::multiboot2::memory_map_scratch_size;

namespace {

constexpr uint32_t kCoreTag = 0x8000'4801, kModuleTag = 0x8000'4802, kDataTag = 0x8000'4803;

struct Expected {
    uint64_t base;
    uint64_t end;
    MemoryType type;
    uint32_t code;
};

struct Result {
    bool ok;
    std::vector<MemoryRegion> regions;
};

Result build(const std::vector<FirmwareRegion>& firmware, const std::vector<Claim>& claims,
             size_t capacity = 64) {
    std::vector<uint64_t> scratch(memory_map_scratch_size(firmware.size(), claims.size()));
    std::vector<MemoryRegion> out(capacity);
    auto result = build_memory_map(firmware, claims, scratch, out);
    if (result.is_error())
        return {false, {}};
    out.resize(result.value());
    return {true, out};
}

void expect_map(const std::vector<MemoryRegion>& actual, const std::vector<Expected>& expected) {
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
        SCOPED_TRACE(i);
        EXPECT_EQ(actual[i].physical_base, expected[i].base);
        EXPECT_EQ(actual[i].physical_base + actual[i].page_count * 4096, expected[i].end);
        EXPECT_EQ(actual[i].type, expected[i].type);
        EXPECT_EQ(actual[i].efi_type, expected[i].code);
        EXPECT_EQ(actual[i].efi_attributes, 0u);
    }
}

// SeaBIOS under QEMU with 512 MiB, as GRUB reports it (unsorted on purpose).
const std::vector<FirmwareRegion> kSeaBios = {
    {0x100000, 0x1FEE0000, 1}, {0x0, 0x9FC00, 1},        {0x9FC00, 0x400, 2},
    {0xF0000, 0x10000, 2},     {0x1FFE0000, 0x20000, 2}, {0xFEFFC000, 0x4000, 2},
    {0xFFFC0000, 0x40000, 2},
};

TEST(Multiboot2MemoryMap, Classification) {
    EXPECT_EQ(classify_bios_memory_type(1), MemoryType::usable);
    EXPECT_EQ(classify_bios_memory_type(2), MemoryType::reserved);
    EXPECT_EQ(classify_bios_memory_type(3), MemoryType::acpi_reclaimable);
    EXPECT_EQ(classify_bios_memory_type(4), MemoryType::acpi_nvs);
    EXPECT_EQ(classify_bios_memory_type(5), MemoryType::unusable);
    EXPECT_EQ(classify_bios_memory_type(7), MemoryType::persistent);
    EXPECT_EQ(classify_bios_memory_type(12), MemoryType::persistent);
    EXPECT_EQ(classify_bios_memory_type(0), MemoryType::reserved);
    EXPECT_EQ(classify_bios_memory_type(6), MemoryType::reserved);
    EXPECT_EQ(classify_bios_memory_type(20), MemoryType::reserved);
}

TEST(Multiboot2MemoryMap, FirmwareMapAloneIsSortedAndPageRounded) {
    auto result = build(kSeaBios, {});
    ASSERT_TRUE(result.ok);
    expect_map(result.regions, {
                                   {0x0, 0x9F000, MemoryType::usable, 1},
                                   {0x9F000, 0xA0000, MemoryType::reserved, 2},
                                   {0xF0000, 0x100000, MemoryType::reserved, 2},
                                   {0x100000, 0x1FFE0000, MemoryType::usable, 1},
                                   {0x1FFE0000, 0x20000000, MemoryType::reserved, 2},
                                   {0xFEFFC000, 0xFF000000, MemoryType::reserved, 2},
                                   {0xFFFC0000, 0x100000000, MemoryType::reserved, 2},
                               });
}

TEST(Multiboot2MemoryMap, ClaimsSplitUsableMemory) {
    std::vector<Claim> claims = {
        {0x9E000, 0x1000, MemoryType::boot_data, kDataTag},      // AP trampoline
        {0x200000, 0x5000, MemoryType::boot_module, kModuleTag}, // halcyon.cfg + halcyon.elf
        {0x205000, 0x1000, MemoryType::boot_module, kModuleTag}, // a guest, right after
        {0x1FC00000, 0x200000, MemoryType::core_image, kCoreTag},
        {0x1FF00000, 0xE0000, MemoryType::boot_data, kDataTag}, // tables, stack, hand-off
    };
    auto result = build(kSeaBios, claims);
    ASSERT_TRUE(result.ok);
    expect_map(result.regions, {
                                   {0x0, 0x9E000, MemoryType::usable, 1},
                                   {0x9E000, 0x9F000, MemoryType::boot_data, kDataTag},
                                   {0x9F000, 0xA0000, MemoryType::reserved, 2},
                                   {0xF0000, 0x100000, MemoryType::reserved, 2},
                                   {0x100000, 0x200000, MemoryType::usable, 1},
                                   {0x200000, 0x206000, MemoryType::boot_module, kModuleTag},
                                   {0x206000, 0x1FC00000, MemoryType::usable, 1},
                                   {0x1FC00000, 0x1FE00000, MemoryType::core_image, kCoreTag},
                                   {0x1FE00000, 0x1FF00000, MemoryType::usable, 1},
                                   {0x1FF00000, 0x1FFE0000, MemoryType::boot_data, kDataTag},
                                   {0x1FFE0000, 0x20000000, MemoryType::reserved, 2},
                                   {0xFEFFC000, 0xFF000000, MemoryType::reserved, 2},
                                   {0xFFFC0000, 0x100000000, MemoryType::reserved, 2},
                               });
}

TEST(Multiboot2MemoryMap, OverlapsResolveTowardsTheRestrictiveType) {
    std::vector<FirmwareRegion> firmware = {
        {0x100000, 0x400000, 1}, // usable ...
        {0x200000, 0x100000, 3}, // ... with ACPI tables inside
        {0x280000, 0x10000, 4},  // ... and NVS inside those
        {0x300800, 0x100, 2},    // a reserved sliver: its whole page is taken
        {0x400000, 0x200000, 1}, // usable overlapping usable
        {0x580000, 0x100000, 5}, // bad RAM
    };
    auto result = build(firmware, {});
    ASSERT_TRUE(result.ok);
    expect_map(result.regions, {
                                   {0x100000, 0x200000, MemoryType::usable, 1},
                                   {0x200000, 0x280000, MemoryType::acpi_reclaimable, 3},
                                   {0x280000, 0x290000, MemoryType::acpi_nvs, 4},
                                   {0x290000, 0x300000, MemoryType::acpi_reclaimable, 3},
                                   {0x300000, 0x301000, MemoryType::reserved, 2},
                                   {0x301000, 0x580000, MemoryType::usable, 1},
                                   {0x580000, 0x680000, MemoryType::unusable, 5},
                               });
}

TEST(Multiboot2MemoryMap, TinyAndEmptyEntriesDisappear) {
    std::vector<FirmwareRegion> firmware = {
        {0x1000, 0x800, 1}, // less than a page of usable memory: nothing
        {0x5000, 0, 2},     // empty
        {0x10000, 0x10000, 1},
    };
    auto result = build(firmware, {});
    ASSERT_TRUE(result.ok);
    expect_map(result.regions, {{0x10000, 0x20000, MemoryType::usable, 1}});
}

TEST(Multiboot2MemoryMap, RefusesClaimsOutsideUsableMemoryOrOverlapping) {
    // In reserved memory, in a hole, straddling usable and reserved, overlapping another claim.
    EXPECT_FALSE(build(kSeaBios, {{0xF0000, 0x1000, MemoryType::boot_data, kDataTag}}).ok);
    EXPECT_FALSE(build(kSeaBios, {{0xA0000, 0x1000, MemoryType::boot_data, kDataTag}}).ok);
    EXPECT_FALSE(build(kSeaBios, {{0x1FFDF000, 0x2000, MemoryType::boot_data, kDataTag}}).ok);
    EXPECT_FALSE(build(kSeaBios, {{0x200000, 0x2000, MemoryType::boot_data, kDataTag},
                                  {0x201000, 0x2000, MemoryType::boot_module, kModuleTag}})
                     .ok);
    // Claims must be whole pages.
    EXPECT_FALSE(build(kSeaBios, {{0x200800, 0x1000, MemoryType::boot_data, kDataTag}}).ok);
    EXPECT_FALSE(build(kSeaBios, {{0x200000, 0x800, MemoryType::boot_data, kDataTag}}).ok);
}

TEST(Multiboot2MemoryMap, RefusesTooSmallBuffers) {
    std::vector<uint64_t> scratch(memory_map_scratch_size(kSeaBios.size(), 0) - 1);
    std::vector<MemoryRegion> out(64);
    EXPECT_TRUE(build_memory_map(kSeaBios, {}, scratch, out).is_error());
    EXPECT_FALSE(build(kSeaBios, {}, 6).ok);
    EXPECT_TRUE(build(kSeaBios, {}, 7).ok);
}

// Entries near 2^64 round and end without wrapping around to 0 (the very last page cannot be
// described with an exclusive end; no real machine has memory there).
TEST(Multiboot2MemoryMap, EntriesAtTheTopOfTheAddressSpace) {
    std::vector<FirmwareRegion> firmware = {
        {0x100000000, 0x100000000, 1},
        {0xFFFFFFFFFFF00800, 0x800, 2},
        {0xFFFFFFFFFFFF0000, 0x20000, 2}, // runs past 2^64
    };
    auto result = build(firmware, {});
    ASSERT_TRUE(result.ok);
    expect_map(result.regions,
               {
                   {0x100000000, 0x200000000, MemoryType::usable, 1},
                   {0xFFFFFFFFFFF00000, 0xFFFFFFFFFFF01000, MemoryType::reserved, 2},
                   {0xFFFFFFFFFFFF0000, 0xFFFFFFFFFFFFF000, MemoryType::reserved, 2},
               });
}

} // namespace
