// Placing the core image (shared by the UEFI and Multiboot2 loaders): the block size from the
// segments, the checks on link address, size and entry point, and the copy that puts each
// segment's bytes at its offset from kCoreVirtualBase while leaving .bss and gaps zero.
#include "boot/common/core_layout.hpp"
#include "boot/handoff/handoff.hpp"
#include "lib/elf/elf_format.hpp"
#include "lib/elf/elf_image.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using halcyon::ErrorCode;
using halcyon::elf::Image;
using halcyon::loader::copy_core_segments;
using halcyon::loader::plan_core_image;
namespace format = halcyon::elf::format;

namespace {

constexpr uint64_t kBase = halcyon::handoff::kCoreVirtualBase;

struct Segment {
    uint64_t address, file_offset, file_size, memory_size;
    uint32_t flags;
};

std::vector<uint8_t> make_elf(const std::vector<Segment>& segments, uint64_t entry) {
    std::vector<uint8_t> file(0x6000);
    for (size_t i = 0x1000; i < file.size(); ++i)
        file[i] = static_cast<uint8_t>(i * 7 + 1); // recognisable, never all zero
    format::FileHeader header{};
    std::memcpy(header.ident, format::kMagic, 4);
    header.ident[4] = format::kClass64;
    header.ident[5] = format::kDataLittle;
    header.ident[6] = format::kVersionCurrent;
    header.type = format::kTypeExecutable;
    header.machine = format::kMachineX86_64;
    header.version = format::kVersionCurrent;
    header.entry = entry;
    header.program_header_offset = sizeof(header);
    header.program_header_size = sizeof(format::ProgramHeader);
    header.program_header_count = static_cast<uint16_t>(segments.size());
    std::memcpy(file.data(), &header, sizeof(header));
    for (size_t i = 0; i < segments.size(); ++i) {
        format::ProgramHeader program{};
        program.type = format::kSegmentLoad;
        program.flags = segments[i].flags;
        program.offset = segments[i].file_offset;
        program.virtual_address = segments[i].address;
        program.file_size = segments[i].file_size;
        program.memory_size = segments[i].memory_size;
        std::memcpy(file.data() + sizeof(header) + i * sizeof(program), &program, sizeof(program));
    }
    return file;
}

// text (RX) at the base, rodata two pages later after a gap, data with .bss after it.
const std::vector<Segment> kCore = {
    {kBase, 0x1000, 0x1800, 0x1800, format::kSegmentFlagExecute},
    {kBase + 0x3000, 0x3000, 0x900, 0x900, 0},
    {kBase + 0x4000, 0x4000, 0x10, 0x2345, format::kSegmentFlagWrite},
};

TEST(LoaderCoreLayout, SizesTheBlockAndCopiesEachSegmentToItsOffset) {
    auto file = make_elf(kCore, kBase + 0x20);
    auto image = Image::parse(file);
    ASSERT_FALSE(image.is_error());
    auto layout = plan_core_image(image.value());
    ASSERT_FALSE(layout.is_error());
    EXPECT_EQ(layout.value().size, 0x7000u); // 0x4000 + 0x2345, page rounded
    EXPECT_EQ(layout.value().entry, kBase + 0x20);

    std::vector<uint8_t> block(layout.value().size, 0);
    copy_core_segments(image.value(), file, block.data());
    EXPECT_EQ(std::memcmp(block.data(), file.data() + 0x1000, 0x1800), 0);
    EXPECT_EQ(std::memcmp(block.data() + 0x3000, file.data() + 0x3000, 0x900), 0);
    EXPECT_EQ(std::memcmp(block.data() + 0x4000, file.data() + 0x4000, 0x10), 0);
    // The gap after text, after rodata, and the .bss beyond data's file bytes stay zero.
    for (size_t offset : {0x1800ul, 0x2FFFul, 0x3900ul, 0x4010ul, 0x6344ul})
        EXPECT_EQ(block[offset], 0) << offset;
}

TEST(LoaderCoreLayout, RefusesImagesThatCannotBePlaced) {
    auto plan = [](const std::vector<Segment>& segments, uint64_t entry) {
        auto file = make_elf(segments, entry);
        auto image = Image::parse(file);
        EXPECT_FALSE(image.is_error());
        return plan_core_image(image.value()).is_error();
    };
    EXPECT_FALSE(plan(kCore, kBase));
    // Entry outside any segment, or in a non-executable one.
    EXPECT_TRUE(plan(kCore, kBase + 0x2000));
    EXPECT_TRUE(plan(kCore, kBase + 0x3010));
    // Linked below kCoreVirtualBase (e.g. a user-space ELF).
    EXPECT_TRUE(plan({{0x400000, 0x1000, 0x100, 0x100, format::kSegmentFlagExecute}}, 0x400000));
    // Beyond the kernel code model's 2 GiB window.
    EXPECT_TRUE(plan({{kBase, 0x1000, 0x100, 0x100, format::kSegmentFlagExecute},
                      {kBase + (2ull << 30), 0x2000, 0x10, 0x10, 0}},
                     kBase));
    EXPECT_TRUE(plan({}, kBase));
}

} // namespace
