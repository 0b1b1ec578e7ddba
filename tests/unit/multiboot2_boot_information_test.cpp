// The Multiboot2 boot information parser: every tag Halcyon reads, as GRUB lays them out, and
// the malformed structures it must refuse (sizes past the end, missing end tag, unterminated
// strings, absent memory map) without reading outside the buffer.
#include "boot/multiboot2/boot_information.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

using halcyon::ErrorCode;
using halcyon::handoff::PixelFormat;
namespace mb2 = halcyon::multiboot2;

namespace {

// Builds boot information the way a boot loader does: header, 8-byte aligned tags, end tag.
class InfoBuilder {
public:
    InfoBuilder() { bytes_.resize(8); }

    InfoBuilder& tag(uint32_t type, const std::vector<uint8_t>& payload) {
        align();
        put32(type);
        put32(static_cast<uint32_t>(8 + payload.size()));
        bytes_.insert(bytes_.end(), payload.begin(), payload.end());
        return *this;
    }
    InfoBuilder& string_tag(uint32_t type, const std::string& text) {
        std::vector<uint8_t> payload(text.begin(), text.end());
        payload.push_back(0);
        return tag(type, payload);
    }
    InfoBuilder& module(uint32_t start, uint32_t end, const std::string& name) {
        std::vector<uint8_t> payload;
        append32(payload, start);
        append32(payload, end);
        payload.insert(payload.end(), name.begin(), name.end());
        payload.push_back(0);
        return tag(3, payload);
    }
    InfoBuilder& memory_map(const std::vector<mb2::MemoryMapEntry>& entries,
                            uint32_t entry_size = 24) {
        std::vector<uint8_t> payload;
        append32(payload, entry_size);
        append32(payload, 0);
        for (const auto& entry : entries) {
            size_t at = payload.size();
            payload.resize(at + entry_size, 0xEE); // padding beyond the entry must be ignored
            std::memcpy(payload.data() + at, &entry, std::min<size_t>(entry_size, sizeof(entry)));
        }
        return tag(6, payload);
    }
    std::vector<uint8_t> finish() {
        align();
        put32(0);
        put32(8);
        uint32_t total = static_cast<uint32_t>(bytes_.size());
        std::memcpy(bytes_.data(), &total, 4);
        return bytes_;
    }

    static void append32(std::vector<uint8_t>& out, uint32_t value) {
        uint8_t raw[4];
        std::memcpy(raw, &value, 4);
        out.insert(out.end(), raw, raw + 4);
    }
    static void append64(std::vector<uint8_t>& out, uint64_t value) {
        append32(out, static_cast<uint32_t>(value));
        append32(out, static_cast<uint32_t>(value >> 32));
    }

private:
    void align() {
        while (bytes_.size() % 8 != 0)
            bytes_.push_back(0);
    }
    void put32(uint32_t value) { append32(bytes_, value); }

    std::vector<uint8_t> bytes_;
};

const std::vector<mb2::MemoryMapEntry> kSeaBiosMap = {
    {0x0, 0x9FC00, 1, 0},         {0x9FC00, 0x400, 2, 0},      {0xF0000, 0x10000, 2, 0},
    {0x100000, 0x1FEE0000, 1, 0}, {0x1FFE0000, 0x20000, 2, 0}, {0xFFFC0000, 0x40000, 2, 0},
};

std::vector<uint8_t> framebuffer_payload(uint64_t address, uint32_t pitch, uint32_t width,
                                         uint32_t height, uint8_t bpp, uint8_t type,
                                         std::vector<uint8_t> colors) {
    std::vector<uint8_t> payload;
    InfoBuilder::append64(payload, address);
    InfoBuilder::append32(payload, pitch);
    InfoBuilder::append32(payload, width);
    InfoBuilder::append32(payload, height);
    payload.push_back(bpp);
    payload.push_back(type);
    payload.push_back(0);
    payload.push_back(0);
    payload.insert(payload.end(), colors.begin(), colors.end());
    return payload;
}

struct Parsed {
    std::vector<uint8_t> bytes; // what `info` refers into
    bool ok;
    ErrorCode code;
    mb2::BootInformation info;
};

// BootInformation is large: keep it off the test's stack.
std::unique_ptr<Parsed> parse(const std::vector<uint8_t>& bytes) {
    auto parsed = std::make_unique<Parsed>();
    parsed->bytes = bytes;
    auto result = mb2::parse_boot_information(parsed->bytes, parsed->info);
    parsed->ok = !result.is_error();
    parsed->code = result.is_error() ? result.error().code() : ErrorCode::invalid_argument;
    return parsed;
}

TEST(Multiboot2BootInformation, ReadsWhatGrubPasses) {
    std::vector<uint8_t> rsdp_v1(20, 0x11), rsdp_v2(36, 0x22);
    auto bytes = InfoBuilder()
                     .string_tag(1, "")
                     .string_tag(2, "GRUB 2.06-13+deb12u1")
                     .module(0x200000, 0x2004D2, "halcyon.cfg")
                     .module(0x201000, 0x601000, "halcyon.elf")
                     .module(0x602000, 0x602100, "guests/hello.bin")
                     .tag(4, {0x7F, 0x02, 0, 0, 0x80, 0xFB, 0x07, 0})
                     .tag(5, {0xE0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
                     .memory_map(kSeaBiosMap)
                     .tag(8, framebuffer_payload(0xB8000, 160, 80, 25, 16, 2, {}))
                     .tag(14, rsdp_v1)
                     .tag(15, rsdp_v2)
                     .finish();
    auto parsed = parse(bytes);
    ASSERT_TRUE(parsed->ok);
    const auto& info = parsed->info;
    EXPECT_EQ(info.total_size, bytes.size());
    EXPECT_EQ(info.boot_loader_name, "GRUB 2.06-13+deb12u1");
    EXPECT_EQ(info.command_line, "");
    ASSERT_EQ(info.module_count, 3u);
    EXPECT_EQ(info.modules[0].name, "halcyon.cfg");
    EXPECT_EQ(info.modules[0].start, 0x200000u);
    EXPECT_EQ(info.modules[0].end, 0x2004D2u);
    EXPECT_EQ(info.modules[2].name, "guests/hello.bin");
    EXPECT_TRUE(info.has_bios_boot_device);
    EXPECT_EQ(info.bios_boot_drive, 0xE0u);
    ASSERT_EQ(info.memory_map_entry_count, kSeaBiosMap.size());
    EXPECT_EQ(info.memory_map_entry(3).base_address, 0x100000u);
    EXPECT_EQ(info.memory_map_entry(3).length, 0x1FEE0000u);
    EXPECT_EQ(info.memory_map_entry(1).type, 2u);
    EXPECT_EQ(info.display, mb2::Display::text);
    EXPECT_EQ(info.text_buffer, 0xB8000u);
    EXPECT_EQ(info.text_columns, 80u);
    EXPECT_EQ(info.text_rows, 25u);
    // The ACPI 2.0 copy wins over the 1.0 one.
    ASSERT_EQ(info.rsdp.size(), 36u);
    EXPECT_EQ(info.rsdp[0], 0x22);
}

TEST(Multiboot2BootInformation, OldRsdpWhenThereIsNoNewOneInEitherOrder) {
    std::vector<uint8_t> rsdp_v1(20, 0x11), rsdp_v2(36, 0x22);
    auto only_old = parse(InfoBuilder().memory_map(kSeaBiosMap).tag(14, rsdp_v1).finish());
    ASSERT_TRUE(only_old->ok);
    ASSERT_EQ(only_old->info.rsdp.size(), 20u);
    auto new_first =
        parse(InfoBuilder().memory_map(kSeaBiosMap).tag(15, rsdp_v2).tag(14, rsdp_v1).finish());
    ASSERT_TRUE(new_first->ok);
    EXPECT_EQ(new_first->info.rsdp.size(), 36u);
    auto none = parse(InfoBuilder().memory_map(kSeaBiosMap).finish());
    ASSERT_TRUE(none->ok);
    EXPECT_TRUE(none->info.rsdp.empty());
    EXPECT_EQ(none->info.display, mb2::Display::unknown);
}

TEST(Multiboot2BootInformation, MemoryMapEntriesWithALargerStride) {
    auto parsed = parse(InfoBuilder().memory_map(kSeaBiosMap, 32).finish());
    ASSERT_TRUE(parsed->ok);
    ASSERT_EQ(parsed->info.memory_map_entry_count, kSeaBiosMap.size());
    for (size_t i = 0; i < kSeaBiosMap.size(); ++i) {
        EXPECT_EQ(parsed->info.memory_map_entry(i).base_address, kSeaBiosMap[i].base_address);
        EXPECT_EQ(parsed->info.memory_map_entry(i).length, kSeaBiosMap[i].length);
        EXPECT_EQ(parsed->info.memory_map_entry(i).type, kSeaBiosMap[i].type);
    }
}

TEST(Multiboot2BootInformation, LinearFramebuffers) {
    // BGRX (blue in the low byte), as VBE and most GOPs use.
    auto bgrx = parse(
        InfoBuilder()
            .memory_map(kSeaBiosMap)
            .tag(8, framebuffer_payload(0xFD000000, 4096, 1024, 768, 32, 1, {16, 8, 8, 8, 0, 8}))
            .finish());
    ASSERT_TRUE(bgrx->ok);
    EXPECT_EQ(bgrx->info.display, mb2::Display::linear);
    EXPECT_EQ(bgrx->info.framebuffer.physical_base, 0xFD000000u);
    EXPECT_EQ(bgrx->info.framebuffer.size, 4096u * 768);
    EXPECT_EQ(bgrx->info.framebuffer.width, 1024u);
    EXPECT_EQ(bgrx->info.framebuffer.height, 768u);
    EXPECT_EQ(bgrx->info.framebuffer.pixels_per_scanline, 1024u);
    EXPECT_EQ(bgrx->info.framebuffer.format, PixelFormat::bgrx);

    auto rgbx = parse(
        InfoBuilder()
            .memory_map(kSeaBiosMap)
            .tag(8, framebuffer_payload(0xE0000000, 3200, 800, 600, 32, 1, {0, 8, 8, 8, 16, 8}))
            .finish());
    ASSERT_TRUE(rgbx->ok);
    EXPECT_EQ(rgbx->info.framebuffer.format, PixelFormat::rgbx);
    EXPECT_EQ(rgbx->info.framebuffer.pixels_per_scanline, 800u);

    // 16-bit colour and indexed modes cannot be described in the hand-off.
    auto rgb565 = parse(
        InfoBuilder()
            .memory_map(kSeaBiosMap)
            .tag(8, framebuffer_payload(0xE0000000, 1600, 800, 600, 16, 1, {11, 5, 5, 6, 0, 5}))
            .finish());
    ASSERT_TRUE(rgb565->ok);
    EXPECT_EQ(rgb565->info.display, mb2::Display::other);
    EXPECT_EQ(rgb565->info.framebuffer.physical_base, 0u);
    auto indexed =
        parse(InfoBuilder()
                  .memory_map(kSeaBiosMap)
                  .tag(8, framebuffer_payload(0xE0000000, 800, 800, 600, 8, 0, {0, 1, 0, 0, 0, 0}))
                  .finish());
    ASSERT_TRUE(indexed->ok);
    EXPECT_EQ(indexed->info.display, mb2::Display::other);
}

TEST(Multiboot2BootInformation, IgnoresUnknownTags) {
    auto parsed = parse(InfoBuilder()
                            .tag(21, {0, 0, 0x10, 0})
                            .tag(0x1234, {1, 2, 3})
                            .memory_map(kSeaBiosMap)
                            .finish());
    ASSERT_TRUE(parsed->ok);
    EXPECT_EQ(parsed->info.memory_map_entry_count, kSeaBiosMap.size());
}

TEST(Multiboot2BootInformation, RefusesMalformedInformation) {
    auto good =
        InfoBuilder().memory_map(kSeaBiosMap).module(0x1000, 0x2000, "halcyon.cfg").finish();
    ASSERT_TRUE(parse(good)->ok);

    // Shorter than its header, or a total size beyond the buffer.
    EXPECT_FALSE(parse(std::vector<uint8_t>(4))->ok);
    auto too_big = good;
    uint32_t total = static_cast<uint32_t>(good.size() + 8);
    std::memcpy(too_big.data(), &total, 4);
    EXPECT_FALSE(parse(too_big)->ok);

    // No end tag: the information stops after the last real tag.
    auto no_end = good;
    no_end.resize(no_end.size() - 8);
    total = static_cast<uint32_t>(no_end.size());
    std::memcpy(no_end.data(), &total, 4);
    EXPECT_FALSE(parse(no_end)->ok);

    // A tag whose size runs past the end, and one smaller than a tag header.
    auto runs_past = good;
    uint32_t huge = 0x10000;
    std::memcpy(runs_past.data() + 12, &huge, 4);
    EXPECT_FALSE(parse(runs_past)->ok);
    auto tiny = good;
    uint32_t four = 4;
    std::memcpy(tiny.data() + 12, &four, 4);
    EXPECT_FALSE(parse(tiny)->ok);

    // A module name without its NUL inside the tag.
    std::vector<uint8_t> payload;
    InfoBuilder::append32(payload, 0x1000);
    InfoBuilder::append32(payload, 0x2000);
    payload.push_back('x');
    EXPECT_FALSE(parse(InfoBuilder().memory_map(kSeaBiosMap).tag(3, payload).finish())->ok);

    // A module that ends before it starts.
    EXPECT_FALSE(
        parse(InfoBuilder().memory_map(kSeaBiosMap).module(0x3000, 0x2000, "x").finish())->ok);

    // Memory map entries smaller than the specification's.
    EXPECT_FALSE(parse(InfoBuilder().memory_map(kSeaBiosMap, 16).finish())->ok);

    // No memory map at all: nothing to run on.
    auto no_map = parse(InfoBuilder().module(0x1000, 0x2000, "halcyon.cfg").finish());
    EXPECT_FALSE(no_map->ok);
    EXPECT_EQ(no_map->code, ErrorCode::not_found);
}

TEST(Multiboot2BootInformation, RefusesMoreModulesThanItHolds) {
    InfoBuilder builder;
    builder.memory_map(kSeaBiosMap);
    for (size_t i = 0; i <= mb2::kMaxModules; ++i)
        builder.module(0x1000, 0x2000, "m" + std::to_string(i));
    auto parsed = parse(builder.finish());
    EXPECT_FALSE(parsed->ok);
    EXPECT_EQ(parsed->code, ErrorCode::out_of_range);
}

// Every truncation of a valid structure (with its total size adjusted) is refused - the end tag
// or a whole tag is missing - and never read past the buffer (ASan checks).
TEST(Multiboot2BootInformation, TruncationsNeverReadOutOfBounds) {
    auto good = InfoBuilder()
                    .string_tag(2, "GRUB")
                    .memory_map(kSeaBiosMap)
                    .module(0x1000, 0x2000, "halcyon.cfg")
                    .tag(15, std::vector<uint8_t>(36, 0))
                    .finish();
    for (size_t size = 0; size < good.size(); ++size) {
        std::vector<uint8_t> truncated(good.begin(), good.begin() + size);
        if (size >= 4) {
            uint32_t total = static_cast<uint32_t>(size);
            std::memcpy(truncated.data(), &total, 4);
        }
        EXPECT_FALSE(parse(truncated)->ok) << "size " << size;
    }
}

} // namespace
