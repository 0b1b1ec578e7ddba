#include "mm/core_address_space.hpp"
#include "mm/page_table_policies.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <gtest/gtest.h>
#include <vector>

using namespace halcyon;
using namespace halcyon::mm;
using handoff::kCoreVirtualBase;
using handoff::kDirectMapBase;
using handoff::MemoryRegion;
using handoff::MemoryType;

namespace {

constexpr uint64_t KiB4 = 4096;
constexpr uint64_t MiB = 1ULL << 20;
constexpr uint64_t GiB = 1ULL << 30;

MemoryRegion region(uint64_t base, uint64_t size, MemoryType type) {
    return MemoryRegion{base, size / KiB4, type, 0, 0};
}

// One leaf of the produced tables, decoded by hand from the raw bits (independently of
// X86PageFormat, so a bug there cannot hide itself).
struct Leaf {
    uint64_t virt;
    uint64_t physical;
    uint64_t size;
    uint64_t raw;
    bool writable() const { return raw & 2; }
    bool user() const { return raw & 4; }
    bool no_execute() const { return raw >> 63; }
    unsigned pat_index() const {
        const bool pat = size == KiB4 ? (raw >> 7) & 1 : (raw >> 12) & 1;
        return ((raw >> 3) & 1) | (((raw >> 4) & 1) << 1) | (unsigned(pat) << 2);
    }
};

// A machine with 4 GiB+ of RAM of which only [16 MiB, 24 MiB) is backed by host memory: that is
// where the frame allocator may take page tables from (everything else usable is reserved).
class FakeMachine {
public:
    static constexpr uint64_t kBacked = 16 * MiB;
    static constexpr uint64_t kBackedSize = 8 * MiB;

    FakeMachine()
        : map_{
              region(0, 0x9F000, MemoryType::usable),
              region(0x9F000, 0x61000, MemoryType::reserved),
              region(1 * MiB, 15 * MiB, MemoryType::usable),
              region(kBacked, kBackedSize, MemoryType::usable),
              region(24 * MiB, 8 * MiB, MemoryType::boot_data),
              region(32 * MiB, 4 * MiB, MemoryType::core_image),
              region(36 * MiB, 2 * MiB + 0x3000, MemoryType::boot_module),
              region(38 * MiB + 0x3000, 0x7F00'0000 - (38 * MiB + 0x3000), MemoryType::usable),
              region(0x7F00'0000, 0x80'0000, MemoryType::acpi_reclaimable),
              region(0xFEC0'0000, 0x1000, MemoryType::mmio),
              region(4 * GiB, 2 * GiB, MemoryType::usable),
          },
          storage_(FrameAllocator::metadata_words(map_)),
          buffer_(std::aligned_alloc(2 * MiB, kBackedSize)),
          window_(PhysicalWindow::for_buffer(buffer_, kBacked)),
          frames_(FrameAllocator::create(map_, MetadataPlacement::external(storage_))
                      .release_value()) {
        std::memset(buffer_, 0xA5, kBackedSize);
        EXPECT_FALSE(frames_.reserve(1 * MiB, 15 * MiB / KiB4).is_error());
        EXPECT_FALSE(frames_.reserve(38 * MiB + 0x3000, (0x7F00'0000 - (38 * MiB + 0x3000)) / KiB4)
                         .is_error());
        EXPECT_FALSE(frames_.reserve(4 * GiB, 2 * GiB / KiB4).is_error());
        EXPECT_EQ(frames_.free_pages(), kBackedSize / KiB4);
    }
    ~FakeMachine() { std::free(buffer_); }

    std::span<const MemoryRegion> map() const { return map_; }
    FrameAllocator& frames() { return frames_; }
    PhysicalWindow window() const { return window_; }

    const uint64_t* table(uint64_t physical) const {
        EXPECT_GE(physical, kBacked);
        EXPECT_LT(physical, kBacked + kBackedSize);
        EXPECT_TRUE(frames_.is_allocated(physical));
        return window_.to_virtual<uint64_t>(physical);
    }

    std::vector<Leaf> leaves(uint64_t root) const {
        std::vector<Leaf> result;
        walk(root, 3, 0, result);
        return result;
    }

private:
    void walk(uint64_t table_physical, int level, uint64_t base, std::vector<Leaf>& out) const {
        const uint64_t* entries = table(table_physical);
        const uint64_t size = KiB4 << (9 * level);
        for (uint64_t i = 0; i < 512; ++i) {
            const uint64_t entry = entries[i];
            if (!(entry & 1))
                continue;
            uint64_t virt = base + i * size;
            if (level == 3 && i >= 256)
                virt |= 0xFFFF'0000'0000'0000ULL; // sign extension of bit 47
            const bool leaf = level == 0 || (entry & 0x80);
            if (leaf) {
                EXPECT_LE(level, 2);
                const uint64_t mask = 0x000F'FFFF'FFFF'F000ULL & ~(size - 1);
                out.push_back(Leaf{virt, entry & mask, size, entry});
            } else {
                walk(entry & 0x000F'FFFF'FFFF'F000ULL, level - 1, virt, out);
            }
        }
    }

    std::vector<MemoryRegion> map_;
    std::vector<uint64_t> storage_;
    void* buffer_;
    PhysicalWindow window_;
    FrameAllocator frames_;
};

constexpr uint64_t kImagePhysical = 32 * MiB;

CoreSections sections() {
    return CoreSections{
        .text_start = kCoreVirtualBase,
        .text_end = kCoreVirtualBase + 0x23000,
        .rodata_start = kCoreVirtualBase + 0x23000,
        .rodata_end = kCoreVirtualBase + 0x30000,
        .data_start = kCoreVirtualBase + 0x31000, // a guard page before data
        .data_end = kCoreVirtualBase + 0x250000,  // data + bss, crossing a 2 MiB line
        .physical_base = kImagePhysical,
    };
}

const DeviceRange kDevices[] = {
    {0x8000'0000, 0x30'0000, CacheMode::write_combining}, // framebuffer
    {0xFEE0'0000, 0x400, CacheMode::uncached},            // local APIC (partial page)
};
const IdentityRange kIdentity[] = {{0x8000, KiB4, kReadExecute}}; // AP trampoline

CoreAddressSpaceRequest request(const FakeMachine& machine, LargePages large = {true, true}) {
    return CoreAddressSpaceRequest{
        .memory_map = machine.map(),
        .sections = sections(),
        .device_ranges = kDevices,
        .identity_ranges = kIdentity,
        .large_pages = large,
    };
}

// Physical ranges [start, end) that the direct map must cover, with the PAT index expected.
struct Expected {
    uint64_t start, end;
    unsigned pat_index;
};

std::vector<Expected> expected_direct_map(const FakeMachine& machine) {
    std::vector<Expected> expected;
    for (const auto& r : machine.map())
        expected.push_back({r.physical_base, r.physical_base + r.page_count * KiB4,
                            r.type == MemoryType::mmio ? 3u : 0u});
    expected.push_back({0x8000'0000, 0x8030'0000, 4u});
    expected.push_back({0xFEE0'0000, 0xFEE0'1000, 3u});
    return expected;
}

} // namespace

TEST(CoreAddressSpace, EnforcesWriteXorExecuteEverywhere) {
    FakeMachine machine;
    auto root = build_core_address_space(request(machine), machine.frames(), machine.window());
    ASSERT_FALSE(root.is_error()) << root.error().message();
    const auto leaves = machine.leaves(root.value());
    ASSERT_FALSE(leaves.empty());
    for (const Leaf& leaf : leaves) {
        EXPECT_FALSE(leaf.writable() && !leaf.no_execute())
            << "writable and executable at " << std::hex << leaf.virt;
        EXPECT_FALSE(leaf.user()) << std::hex << leaf.virt;
    }
}

TEST(CoreAddressSpace, OnlyTheRequestedIdentityPageIsInTheLowerHalf) {
    FakeMachine machine;
    auto root = build_core_address_space(request(machine), machine.frames(), machine.window());
    ASSERT_FALSE(root.is_error());
    size_t low = 0;
    for (const Leaf& leaf : machine.leaves(root.value())) {
        if (leaf.virt >= (1ULL << 47))
            continue;
        ++low;
        EXPECT_EQ(leaf.virt, 0x8000u);
        EXPECT_EQ(leaf.physical, 0x8000u);
        EXPECT_EQ(leaf.size, KiB4);
        EXPECT_FALSE(leaf.writable());
        EXPECT_FALSE(leaf.no_execute());
    }
    EXPECT_EQ(low, 1u);
}

TEST(CoreAddressSpace, CoreImageSectionsHaveTheirOwnPermissions) {
    FakeMachine machine;
    auto root = build_core_address_space(request(machine), machine.frames(), machine.window());
    ASSERT_FALSE(root.is_error());
    const CoreSections s = sections();
    uint64_t text = 0, rodata = 0, data = 0;
    for (const Leaf& leaf : machine.leaves(root.value())) {
        if (leaf.virt < kCoreVirtualBase)
            continue;
        EXPECT_EQ(leaf.physical, kImagePhysical + (leaf.virt - kCoreVirtualBase));
        EXPECT_EQ(leaf.pat_index(), 0u); // write-back
        if (leaf.virt >= s.text_start && leaf.virt + leaf.size <= s.text_end) {
            EXPECT_FALSE(leaf.writable());
            EXPECT_FALSE(leaf.no_execute());
            text += leaf.size;
        } else if (leaf.virt >= s.rodata_start && leaf.virt + leaf.size <= s.rodata_end) {
            EXPECT_FALSE(leaf.writable());
            EXPECT_TRUE(leaf.no_execute());
            rodata += leaf.size;
        } else if (leaf.virt >= s.data_start && leaf.virt + leaf.size <= s.data_end) {
            EXPECT_TRUE(leaf.writable());
            EXPECT_TRUE(leaf.no_execute());
            data += leaf.size;
        } else {
            ADD_FAILURE() << "core-window page outside every section: " << std::hex << leaf.virt;
        }
    }
    EXPECT_EQ(text, s.text_end - s.text_start);
    EXPECT_EQ(rodata, s.rodata_end - s.rodata_start);
    EXPECT_EQ(data, s.data_end - s.data_start);
}

TEST(CoreAddressSpace, DirectMapCoversExactlyTheMapAndDevices) {
    FakeMachine machine;
    auto root = build_core_address_space(request(machine), machine.frames(), machine.window());
    ASSERT_FALSE(root.is_error());
    const auto expected = expected_direct_map(machine);
    uint64_t mapped = 0;
    for (const Leaf& leaf : machine.leaves(root.value())) {
        if (leaf.virt < kDirectMapBase || leaf.virt >= kCoreVirtualBase)
            continue;
        EXPECT_EQ(leaf.physical, leaf.virt - kDirectMapBase);
        EXPECT_TRUE(leaf.writable());
        EXPECT_TRUE(leaf.no_execute());
        // Every page of the leaf lies in an expected range with the expected memory type.
        for (uint64_t page = leaf.physical; page < leaf.physical + leaf.size; page += KiB4) {
            auto it = std::find_if(expected.begin(), expected.end(), [&](const Expected& e) {
                return page >= e.start && page < e.end;
            });
            ASSERT_NE(it, expected.end()) << "unexpected direct-map page " << std::hex << page;
            ASSERT_EQ(leaf.pat_index(), it->pat_index) << std::hex << page;
        }
        mapped += leaf.size;
    }
    uint64_t wanted = 0;
    for (const Expected& e : expected)
        wanted += e.end - e.start;
    EXPECT_EQ(mapped, wanted); // no page missing (and, with the check above, none extra)
}

TEST(CoreAddressSpace, UsesLargePagesAcrossRegionBoundaries) {
    FakeMachine machine;
    auto root = build_core_address_space(request(machine), machine.frames(), machine.window());
    ASSERT_FALSE(root.is_error());
    auto table = X86PageTable::adopt(WindowTableMemory(machine.window()),
                                     FrameTableAllocator(machine.frames(), machine.window()),
                                     root.value(), LargePages{true, true});
    // boot_data, core_image and boot_module are all plain RW memory in the direct map, so the
    // 2 MiB pages run straight across their boundaries.
    auto at_core_image = table.lookup(kDirectMapBase + 32 * MiB);
    ASSERT_TRUE(at_core_image);
    EXPECT_EQ(at_core_image->page_size, PageSize::size_2m);
    auto at_module_end = table.lookup(kDirectMapBase + 38 * MiB);
    ASSERT_TRUE(at_module_end);
    EXPECT_EQ(at_module_end->page_size, PageSize::size_2m);
    // The RAM above 4 GiB gets 1 GiB pages; the first GiB below it too (0..1 GiB is all RAM
    // of the same type except the low legacy hole, so it has to be split there).
    auto high = table.lookup(kDirectMapBase + 5 * GiB + 12345);
    ASSERT_TRUE(high);
    EXPECT_EQ(high->page_size, PageSize::size_1g);
    EXPECT_EQ(high->physical, 5 * GiB + 12345);
    auto low = table.lookup(kDirectMapBase + 0x9F000);
    ASSERT_TRUE(low);
    EXPECT_EQ(low->page_size, PageSize::size_4k);
    // The MMIO page is uncached, the hole next to it is not mapped.
    auto mmio = table.lookup(kDirectMapBase + 0xFEC0'0000);
    ASSERT_TRUE(mmio);
    EXPECT_EQ(mmio->attributes.cache, CacheMode::uncached);
    EXPECT_FALSE(table.lookup(kDirectMapBase + 0xFEC0'1000).has_value());
    EXPECT_FALSE(table.lookup(kDirectMapBase + 0x7F80'0000).has_value());
    EXPECT_FALSE(table.lookup(kDirectMapBase + 6 * GiB).has_value());
}

TEST(CoreAddressSpace, WithoutGigabytePagesFallsBackToTwoMegabytes) {
    FakeMachine machine;
    auto root = build_core_address_space(request(machine, LargePages{true, false}),
                                         machine.frames(), machine.window());
    ASSERT_FALSE(root.is_error());
    size_t two_mib = 0;
    for (const Leaf& leaf : machine.leaves(root.value())) {
        EXPECT_NE(leaf.size, GiB);
        two_mib += leaf.size == 2 * MiB;
    }
    EXPECT_GT(two_mib, 1024u); // the 2 GiB above 4 GiB alone
}

TEST(CoreAddressSpace, RejectsBadRequestsWithoutLeakingTables) {
    FakeMachine machine;
    const size_t free_before = machine.frames().free_pages();

    auto bad_order = request(machine);
    bad_order.sections.rodata_start = bad_order.sections.text_start;
    auto result = build_core_address_space(bad_order, machine.frames(), machine.window());
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ErrorCode::invalid_argument);

    auto unaligned = request(machine);
    unaligned.sections.text_end += 8;
    EXPECT_EQ(
        build_core_address_space(unaligned, machine.frames(), machine.window()).error().code(),
        ErrorCode::invalid_argument);

    const IdentityRange writable_code[] = {
        {0x8000, KiB4, {true, true, false, CacheMode::write_back}}};
    auto wx = request(machine);
    wx.identity_ranges = writable_code;
    EXPECT_EQ(build_core_address_space(wx, machine.frames(), machine.window()).error().code(),
              ErrorCode::permission);

    const DeviceRange beyond[] = {{1ULL << 47, KiB4, CacheMode::uncached}};
    auto too_high = request(machine);
    too_high.device_ranges = beyond;
    EXPECT_EQ(build_core_address_space(too_high, machine.frames(), machine.window()).error().code(),
              ErrorCode::out_of_range);

    EXPECT_EQ(machine.frames().free_pages(), free_before);
}

TEST(CoreAddressSpace, ReportsExhaustionWithoutLeaking) {
    FakeMachine machine;
    // Leave only a handful of frames: far fewer than the tables need.
    std::vector<uint64_t> taken;
    while (machine.frames().free_pages() > 5)
        taken.push_back(machine.frames().allocate().release_value());
    auto result = build_core_address_space(request(machine), machine.frames(), machine.window());
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ErrorCode::out_of_memory);
    EXPECT_EQ(machine.frames().free_pages(), 5u);
}

TEST(CoreAddressSpace, NoLargePageSpansRamAndReservedOrTheLegacyArea) {
    FakeMachine machine;
    // A second, synthetic map (tables still come from the fake machine's backed frames).
    const MemoryRegion map[] = {
        region(0, 3 * MiB, MemoryType::usable),         // crosses the 1 MiB line
        region(3 * MiB, 3 * MiB, MemoryType::reserved), // [3, 6) MiB: not merged with RAM
        region(6 * MiB, 2 * MiB, MemoryType::usable),
        region(8 * MiB, 2 * MiB, MemoryType::boot_data), // RAM: merged with its neighbour
    };
    auto req = request(machine);
    req.memory_map = map;
    req.device_ranges = {};
    auto root = build_core_address_space(req, machine.frames(), machine.window());
    ASSERT_FALSE(root.is_error());
    auto table = X86PageTable::adopt(WindowTableMemory(machine.window()),
                                     FrameTableAllocator(machine.frames(), machine.window()),
                                     root.value(), LargePages{true, true});
    const auto size_at = [&](uint64_t physical) {
        auto t = table.lookup(kDirectMapBase + physical);
        EXPECT_TRUE(t.has_value()) << std::hex << physical;
        return t ? t->page_size : PageSize::size_4k;
    };
    EXPECT_EQ(size_at(0), PageSize::size_4k);
    EXPECT_EQ(size_at(1 * MiB - KiB4), PageSize::size_4k);
    EXPECT_EQ(size_at(1 * MiB), PageSize::size_4k); // [0, 2) MiB would cover the legacy area
    EXPECT_EQ(size_at(2 * MiB), PageSize::size_4k); // [2, 4) MiB would mix RAM and reserved
    EXPECT_EQ(size_at(4 * MiB), PageSize::size_2m); // inside the reserved region
    EXPECT_EQ(size_at(6 * MiB), PageSize::size_2m);
    EXPECT_EQ(size_at(8 * MiB), PageSize::size_2m);
    EXPECT_FALSE(table.lookup(kDirectMapBase + 10 * MiB).has_value());
}
