// The loader's page tables, built from heap pages and checked by walking them like the MMU:
// identity map (RWX, 2 MiB), direct map (RW + NX, 1 GiB or 2 MiB pages), and the core image
// with per-segment permissions, including two segments sharing one page.
#include "boot/common/page_tables.hpp"
#include "boot/handoff/handoff.hpp"
#include "lib/elf/elf_format.hpp"
#include "lib/elf/elf_image.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

using halcyon::Error;
using halcyon::ErrorCode;
using halcyon::ErrorOr;
using halcyon::elf::Image;
using halcyon::loader::build_page_tables;
using halcyon::loader::PageTableAllocator;
using halcyon::loader::PageTableOptions;
namespace format = halcyon::elf::format;
namespace handoff = halcyon::handoff;

namespace {

constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t kCorePhysical = 0x20'0000'0000; // far from anything the tables map 1:1
constexpr uint64_t kBase = handoff::kCoreVirtualBase;

class HeapAllocator final : public PageTableAllocator {
public:
    ~HeapAllocator() {
        for (void* page : pages_)
            std::free(page);
    }
    ErrorOr<uint64_t> allocate_table() override {
        if (pages_.size() == limit)
            return Error(ErrorCode::out_of_memory, "test allocator exhausted");
        void* page = std::aligned_alloc(4096, 4096);
        std::memset(page, 0, 4096);
        pages_.push_back(page);
        return reinterpret_cast<uint64_t>(page);
    }
    size_t count() const { return pages_.size(); }
    size_t limit = 1000;

private:
    std::vector<void*> pages_;
};

struct Translation {
    uint64_t physical;
    uint64_t page_size;
    bool writable;
    bool executable;
};

// Walks the 4-level tables from `root` for `virtual_address`.
std::optional<Translation> translate(uint64_t root, uint64_t virtual_address) {
    uint64_t table = root;
    bool writable = true;
    bool executable = true;
    for (int level = 4; level >= 1; --level) {
        size_t index = (virtual_address >> (12 + 9 * (level - 1))) & 0x1FF;
        uint64_t entry = reinterpret_cast<const uint64_t*>(table)[index];
        if ((entry & 1) == 0)
            return std::nullopt;
        writable = writable && (entry & 2);
        executable = executable && !(entry >> 63);
        uint64_t address = entry & 0x000F'FFFF'FFFF'F000ull;
        bool leaf = level == 1 || (level <= 3 && (entry & 0x80));
        if (leaf) {
            uint64_t page_size = 1ull << (12 + 9 * (level - 1));
            return Translation{address + (virtual_address & (page_size - 1)), page_size, writable,
                               executable};
        }
        table = address;
    }
    return std::nullopt;
}

// A core with text (2 pages, RX), rodata starting inside text's last page (R), and data with
// .bss (RW, 2 pages).
std::vector<uint8_t> core_elf() {
    struct Segment {
        uint64_t address, file_size, memory_size;
        uint32_t flags;
    } segments[] = {
        {kBase, 0x1800, 0x1800, format::kSegmentFlagExecute},
        {kBase + 0x1800, 0x900, 0x900, 0},
        {kBase + 0x3000, 0x10, 0x2000, format::kSegmentFlagWrite},
    };
    std::vector<uint8_t> file(0x4000);
    format::FileHeader header{};
    std::memcpy(header.ident, format::kMagic, 4);
    header.ident[4] = format::kClass64;
    header.ident[5] = format::kDataLittle;
    header.ident[6] = format::kVersionCurrent;
    header.type = format::kTypeExecutable;
    header.machine = format::kMachineX86_64;
    header.version = format::kVersionCurrent;
    header.entry = kBase;
    header.program_header_offset = sizeof(header);
    header.program_header_size = sizeof(format::ProgramHeader);
    header.program_header_count = 3;
    std::memcpy(file.data(), &header, sizeof(header));
    for (size_t i = 0; i < 3; ++i) {
        format::ProgramHeader program{};
        program.type = format::kSegmentLoad;
        program.flags = segments[i].flags;
        program.offset = 0x1000;
        program.virtual_address = segments[i].address;
        program.file_size = segments[i].file_size;
        program.memory_size = segments[i].memory_size;
        std::memcpy(file.data() + sizeof(header) + i * sizeof(program), &program, sizeof(program));
    }
    return file;
}

class LoaderPageTables : public ::testing::TestWithParam<bool> {};

} // namespace

TEST_P(LoaderPageTables, MapsIdentityDirectMapAndCore) {
    bool use_1gib_pages = GetParam();
    auto file = core_elf();
    auto image = Image::parse(file);
    ASSERT_FALSE(image.is_error()) << image.error().message();
    HeapAllocator allocator;
    PageTableOptions options{.physical_limit = 4 * kGiB,
                             .use_1gib_pages = use_1gib_pages,
                             .core_physical_base = kCorePhysical};
    auto root = build_page_tables(options, image.value(), allocator);
    ASSERT_FALSE(root.is_error()) << root.error().message();

    // Identity: RWX 2 MiB pages over [0, 4 GiB), nothing beyond.
    for (uint64_t address : {uint64_t{0}, uint64_t{0x12345678}, 4 * kGiB - 1}) {
        auto t = translate(root.value(), address);
        ASSERT_TRUE(t) << std::hex << address;
        EXPECT_EQ(t->physical, address);
        EXPECT_EQ(t->page_size, 2u << 20);
        EXPECT_TRUE(t->writable);
        EXPECT_TRUE(t->executable);
    }
    EXPECT_FALSE(translate(root.value(), 4 * kGiB));

    // Direct map: RW, never executable, 1 GiB or 2 MiB pages.
    for (uint64_t address : {uint64_t{0}, uint64_t{0xFEE00000}, 4 * kGiB - 8}) {
        auto t = translate(root.value(), handoff::kDirectMapBase + address);
        ASSERT_TRUE(t) << std::hex << address;
        EXPECT_EQ(t->physical, address);
        EXPECT_EQ(t->page_size, use_1gib_pages ? kGiB : 2u << 20);
        EXPECT_TRUE(t->writable);
        EXPECT_FALSE(t->executable);
    }
    EXPECT_FALSE(translate(root.value(), handoff::kDirectMapBase + 4 * kGiB));

    // Core: 4 KiB pages with each segment's permissions.
    struct Expected {
        uint64_t offset;
        bool writable, executable;
    } expected[] = {
        {0x0000, false, true},  // text
        {0x1000, false, true},  // text and rodata share this page: executable, still read-only
        {0x2000, false, false}, // rodata
        {0x3000, true, false},  // data
        {0x4FF8, true, false},  // .bss
    };
    for (const auto& e : expected) {
        auto t = translate(root.value(), kBase + e.offset);
        ASSERT_TRUE(t) << std::hex << e.offset;
        EXPECT_EQ(t->physical, kCorePhysical + e.offset);
        EXPECT_EQ(t->page_size, 4096u);
        EXPECT_EQ(t->writable, e.writable) << std::hex << e.offset;
        EXPECT_EQ(t->executable, e.executable) << std::hex << e.offset;
    }
    EXPECT_FALSE(translate(root.value(), kBase + 0x5000));
    EXPECT_FALSE(translate(root.value(), kBase - 0x1000));
}

INSTANTIATE_TEST_SUITE_P(PageSizes, LoaderPageTables, ::testing::Bool());

TEST(LoaderPageTablesLimits, CoversLargeMachinesAndRefusesImpossibleOnes) {
    auto file = core_elf();
    auto image = Image::parse(file);
    ASSERT_FALSE(image.is_error());

    HeapAllocator allocator;
    allocator.limit = 4000; // 1 TiB identity mapped with 2 MiB pages takes 1024 directories
    PageTableOptions large{
        .physical_limit = 1024 * kGiB, .use_1gib_pages = true, .core_physical_base = kCorePhysical};
    auto root = build_page_tables(large, image.value(), allocator);
    ASSERT_FALSE(root.is_error());
    auto high = translate(root.value(), handoff::kDirectMapBase + 1000 * kGiB + 0x1234);
    ASSERT_TRUE(high);
    EXPECT_EQ(high->physical, 1000 * kGiB + 0x1234);
    auto identity = translate(root.value(), 1023 * kGiB);
    ASSERT_TRUE(identity);
    EXPECT_EQ(identity->physical, 1023 * kGiB);

    HeapAllocator unused;
    PageTableOptions impossible{.physical_limit = 256 * 512 * kGiB,
                                .use_1gib_pages = true,
                                .core_physical_base = kCorePhysical};
    auto refused = build_page_tables(impossible, image.value(), unused);
    ASSERT_TRUE(refused.is_error());
    EXPECT_EQ(refused.error().code(), ErrorCode::not_supported);
}

TEST(LoaderPageTablesLimits, PropagatesAllocationFailure) {
    auto file = core_elf();
    auto image = Image::parse(file);
    ASSERT_FALSE(image.is_error());
    for (size_t limit : {0u, 1u, 3u, 8u}) {
        HeapAllocator allocator;
        allocator.limit = limit;
        PageTableOptions options{.physical_limit = 4 * kGiB,
                                 .use_1gib_pages = false,
                                 .core_physical_base = kCorePhysical};
        auto result = build_page_tables(options, image.value(), allocator);
        ASSERT_TRUE(result.is_error()) << "limit " << limit;
        EXPECT_EQ(result.error().code(), ErrorCode::out_of_memory);
    }
}
