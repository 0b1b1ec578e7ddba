// The loader's memory-map normalization: classification of every EFI type, sorting, merging,
// firmware descriptor strides larger than the structure, and rejection of broken maps.
#include "boot/uefi/efi/memory.hpp"
#include "boot/uefi/memory_map.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using halcyon::ErrorCode;
using halcyon::handoff::MemoryRegion;
using halcyon::handoff::MemoryType;
using halcyon::loader::classify_efi_memory_type;
using halcyon::loader::highest_memory_map_address;
using halcyon::loader::normalize_memory_map;
namespace efi = halcyon::efi;
namespace handoff = halcyon::handoff;

namespace {

constexpr uint64_t kWriteBack = 0x8; // EFI_MEMORY_WB
constexpr uint64_t kUncached = 0x1;  // EFI_MEMORY_UC

struct Entry {
    uint32_t type;
    uint64_t base;
    uint64_t pages;
    uint64_t attributes = kWriteBack;
};

// Lays out descriptors with the given stride, as firmware does (stride >= sizeof descriptor),
// filling the padding with junk so that reading it by mistake would show.
std::vector<uint8_t> make_map(const std::vector<Entry>& entries, size_t stride = 48) {
    std::vector<uint8_t> map(entries.size() * stride, 0xCC);
    for (size_t i = 0; i < entries.size(); ++i) {
        efi::MemoryDescriptor descriptor{};
        descriptor.type = entries[i].type;
        descriptor.physical_start = entries[i].base;
        descriptor.virtual_start = 0;
        descriptor.page_count = entries[i].pages;
        descriptor.attribute = entries[i].attributes;
        std::memcpy(map.data() + i * stride, &descriptor, sizeof(descriptor));
    }
    return map;
}

uint32_t efi_type(efi::MemoryType type) {
    return static_cast<uint32_t>(type);
}

std::vector<MemoryRegion> normalize(const std::vector<uint8_t>& map, size_t stride = 48,
                                    size_t capacity = 64) {
    std::vector<MemoryRegion> out(capacity);
    auto result = normalize_memory_map(map, stride, out);
    EXPECT_FALSE(result.is_error()) << (result.is_error() ? result.error().message() : "");
    if (result.is_error())
        return {};
    out.resize(result.value());
    return out;
}

} // namespace

TEST(LoaderMemoryMap, ClassifiesEveryEfiType) {
    EXPECT_EQ(classify_efi_memory_type(efi_type(efi::MemoryType::reserved)), MemoryType::reserved);
    for (auto usable : {efi::MemoryType::loader_code, efi::MemoryType::loader_data,
                        efi::MemoryType::boot_services_code, efi::MemoryType::boot_services_data,
                        efi::MemoryType::conventional})
        EXPECT_EQ(classify_efi_memory_type(efi_type(usable)), MemoryType::usable);
    EXPECT_EQ(classify_efi_memory_type(efi_type(efi::MemoryType::runtime_services_code)),
              MemoryType::firmware_runtime);
    EXPECT_EQ(classify_efi_memory_type(efi_type(efi::MemoryType::runtime_services_data)),
              MemoryType::firmware_runtime);
    EXPECT_EQ(classify_efi_memory_type(efi_type(efi::MemoryType::unusable)), MemoryType::unusable);
    EXPECT_EQ(classify_efi_memory_type(efi_type(efi::MemoryType::acpi_reclaim)),
              MemoryType::acpi_reclaimable);
    EXPECT_EQ(classify_efi_memory_type(efi_type(efi::MemoryType::acpi_nvs)), MemoryType::acpi_nvs);
    EXPECT_EQ(classify_efi_memory_type(efi_type(efi::MemoryType::mmio)), MemoryType::mmio);
    EXPECT_EQ(classify_efi_memory_type(efi_type(efi::MemoryType::mmio_port_space)),
              MemoryType::mmio);
    EXPECT_EQ(classify_efi_memory_type(efi_type(efi::MemoryType::pal_code)), MemoryType::reserved);
    EXPECT_EQ(classify_efi_memory_type(efi_type(efi::MemoryType::persistent)),
              MemoryType::persistent);
    EXPECT_EQ(classify_efi_memory_type(efi_type(efi::MemoryType::unaccepted)),
              MemoryType::reserved);
    EXPECT_EQ(classify_efi_memory_type(handoff::kEfiTypeCoreImage), MemoryType::core_image);
    EXPECT_EQ(classify_efi_memory_type(handoff::kEfiTypeBootModule), MemoryType::boot_module);
    EXPECT_EQ(classify_efi_memory_type(handoff::kEfiTypeBootData), MemoryType::boot_data);
    // Types nobody defined, and other OS loaders' types, are never handed out.
    EXPECT_EQ(classify_efi_memory_type(16), MemoryType::reserved);
    EXPECT_EQ(classify_efi_memory_type(0x7000'0000), MemoryType::reserved);
    EXPECT_EQ(classify_efi_memory_type(0x8000'0000), MemoryType::reserved);
}

TEST(LoaderMemoryMap, SortsMergesAndKeepsFirmwareDetails) {
    auto map = make_map({
        {efi_type(efi::MemoryType::conventional), 0x100000, 0x100},
        {efi_type(efi::MemoryType::boot_services_data), 0x0, 0x9F},
        {efi_type(efi::MemoryType::loader_code), 0x200000, 0x10},
        {efi_type(efi::MemoryType::reserved), 0x9F000, 0x61},
        {handoff::kEfiTypeCoreImage, 0x400000, 0x200},
        {efi_type(efi::MemoryType::conventional), 0x210000, 0x1F0},
        {efi_type(efi::MemoryType::mmio), 0xFEC00000, 0x1, kUncached},
        {efi_type(efi::MemoryType::conventional), 0x600000, 0x0}, // empty: dropped
    });
    auto regions = normalize(map);
    ASSERT_EQ(regions.size(), 5u);

    EXPECT_EQ(regions[0].physical_base, 0x0u);
    EXPECT_EQ(regions[0].page_count, 0x9Fu);
    EXPECT_EQ(regions[0].type, MemoryType::usable);
    EXPECT_EQ(regions[0].efi_type, efi_type(efi::MemoryType::boot_services_data));

    EXPECT_EQ(regions[1].physical_base, 0x9F000u);
    EXPECT_EQ(regions[1].type, MemoryType::reserved);

    // Conventional + loader code + conventional, contiguous: one usable region.
    EXPECT_EQ(regions[2].physical_base, 0x100000u);
    EXPECT_EQ(regions[2].page_count, 0x100u + 0x10u + 0x1F0u);
    EXPECT_EQ(regions[2].type, MemoryType::usable);
    EXPECT_EQ(regions[2].efi_attributes, kWriteBack);

    EXPECT_EQ(regions[3].physical_base, 0x400000u);
    EXPECT_EQ(regions[3].type, MemoryType::core_image);
    EXPECT_EQ(regions[3].efi_type, handoff::kEfiTypeCoreImage);

    EXPECT_EQ(regions[4].physical_base, 0xFEC00000u);
    EXPECT_EQ(regions[4].type, MemoryType::mmio);
    EXPECT_EQ(regions[4].efi_attributes, kUncached);
}

TEST(LoaderMemoryMap, DoesNotMergeAcrossGapsTypesOrCaching) {
    auto map = make_map({
        {efi_type(efi::MemoryType::conventional), 0x0, 0x10},
        {efi_type(efi::MemoryType::conventional), 0x11000, 0x10}, // one-page gap
        {efi_type(efi::MemoryType::acpi_reclaim), 0x21000, 0x10},
        {efi_type(efi::MemoryType::acpi_reclaim), 0x31000, 0x10, kUncached},
    });
    auto regions = normalize(map);
    ASSERT_EQ(regions.size(), 4u);
    for (size_t i = 1; i < regions.size(); ++i)
        EXPECT_LT(regions[i - 1].physical_base, regions[i].physical_base);
}

TEST(LoaderMemoryMap, HonoursTheFirmwareStride) {
    std::vector<Entry> entries = {
        {efi_type(efi::MemoryType::conventional), 0x1000, 0x1},
        {efi_type(efi::MemoryType::acpi_nvs), 0x2000, 0x1},
    };
    for (size_t stride : {sizeof(efi::MemoryDescriptor), size_t{48}, size_t{64}}) {
        auto regions = normalize(make_map(entries, stride), stride);
        ASSERT_EQ(regions.size(), 2u) << "stride " << stride;
        EXPECT_EQ(regions[1].type, MemoryType::acpi_nvs);
    }
    std::vector<MemoryRegion> out(4);
    auto map = make_map(entries, 48);
    auto too_small = normalize_memory_map(map, 32, out);
    ASSERT_TRUE(too_small.is_error());
    EXPECT_EQ(too_small.error().code(), ErrorCode::invalid_argument);
}

TEST(LoaderMemoryMap, RejectsBrokenMaps) {
    std::vector<MemoryRegion> out(8);
    auto overlapping = make_map({
        {efi_type(efi::MemoryType::conventional), 0x0, 0x10},
        {efi_type(efi::MemoryType::reserved), 0xF000, 0x2},
    });
    auto overlap = normalize_memory_map(overlapping, 48, out);
    ASSERT_TRUE(overlap.is_error());
    EXPECT_EQ(overlap.error().code(), ErrorCode::corrupt);

    auto wrapping = make_map({{efi_type(efi::MemoryType::conventional), ~0ull - 0xFFF, 2}});
    auto wrap = normalize_memory_map(wrapping, 48, out);
    ASSERT_TRUE(wrap.is_error());
    EXPECT_EQ(wrap.error().code(), ErrorCode::corrupt);

    auto unaligned = make_map({{efi_type(efi::MemoryType::conventional), 0x1234, 2}});
    ASSERT_TRUE(normalize_memory_map(unaligned, 48, out).is_error());

    auto three = make_map({
        {efi_type(efi::MemoryType::conventional), 0x0, 1},
        {efi_type(efi::MemoryType::reserved), 0x1000, 1},
        {efi_type(efi::MemoryType::conventional), 0x2000, 1},
    });
    std::vector<MemoryRegion> two(2);
    auto full = normalize_memory_map(three, 48, two);
    ASSERT_TRUE(full.is_error());
    EXPECT_EQ(full.error().code(), ErrorCode::out_of_range);
}

TEST(LoaderMemoryMap, ToleratesEmptyAndPartialMaps) {
    std::vector<MemoryRegion> out(2);
    auto empty = normalize_memory_map({}, 48, out);
    ASSERT_FALSE(empty.is_error());
    EXPECT_EQ(empty.value(), 0u);
    // A trailing partial descriptor (buffer not a multiple of the stride) is ignored.
    auto map = make_map({{efi_type(efi::MemoryType::conventional), 0x0, 1}});
    map.resize(map.size() + 20, 0xEE);
    auto partial = normalize_memory_map(map, 48, out);
    ASSERT_FALSE(partial.is_error());
    EXPECT_EQ(partial.value(), 1u);
}

TEST(LoaderMemoryMap, FindsTheHighestAddress) {
    auto map = make_map({
        {efi_type(efi::MemoryType::conventional), 0x100000, 0x100},
        {efi_type(efi::MemoryType::mmio), 0xFD00000000, 0x10},
        {efi_type(efi::MemoryType::conventional), 0x0, 0x10},
        {efi_type(efi::MemoryType::conventional), ~0ull - 0xFFF, 0x10}, // wraps: ignored
    });
    EXPECT_EQ(highest_memory_map_address(map, 48), 0xFD00010000u);
    EXPECT_EQ(highest_memory_map_address({}, 48), 0u);
}
