// The management partition's identity region (vmm/mgmt_host/region_layout.hpp): boot info,
// page tables, GDT, image segments and config text where the contract puts them, and every bad
// image refused before anything is written (docs/management-partition.md).
#include "boot/handoff/handoff.hpp"
#include "mgmt/partition/abi/boot_info.hpp"
#include "vmm/mgmt_host/region_layout.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <vector>

namespace halcyon::mgmt_host {
namespace {

constexpr uint64_t kLink = 0xFFFF'FFFF'8000'0000ull;
constexpr uint64_t kBase = 0x4000'0000; // 1 GiB: a 2 MiB-aligned region base
constexpr uint64_t kRegion = 16ull << 20;

// A minimal ELF64 x86-64 executable: one RX segment with `text`, one RW segment with `data`
// and a .bss tail (memory size > file size).
struct Segment {
    uint64_t vaddr;
    std::vector<uint8_t> bytes;
    uint64_t memory_size;
    uint32_t flags; // PF_X 1, PF_W 2, PF_R 4
};

std::vector<uint8_t> make_elf(uint64_t entry, const std::vector<Segment>& segments) {
    const size_t header = 64, phentsize = 56;
    size_t offset = header + phentsize * segments.size();
    std::vector<uint8_t> file(offset);
    auto put = [&](size_t at, uint64_t value, size_t bytes) {
        for (size_t i = 0; i < bytes; ++i)
            file[at + i] = static_cast<uint8_t>(value >> (8 * i));
    };
    const uint8_t ident[] = {0x7F, 'E', 'L', 'F', 2, 1, 1, 0};
    std::memcpy(file.data(), ident, sizeof(ident));
    put(16, 2, 2);  // ET_EXEC
    put(18, 62, 2); // EM_X86_64
    put(20, 1, 4);
    put(24, entry, 8);
    put(32, header, 8); // e_phoff
    put(52, header, 2);
    put(54, phentsize, 2);
    put(56, segments.size(), 2);
    put(58, 64, 2); // e_shentsize
    for (size_t i = 0; i < segments.size(); ++i) {
        const Segment& s = segments[i];
        const size_t ph = header + i * phentsize;
        put(ph + 0, 1, 4); // PT_LOAD
        put(ph + 4, s.flags, 4);
        put(ph + 8, offset, 8);
        put(ph + 16, s.vaddr, 8);
        put(ph + 24, s.vaddr, 8);
        put(ph + 32, s.bytes.size(), 8);
        put(ph + 40, s.memory_size, 8);
        put(ph + 48, 4096, 8);
        file.insert(file.end(), s.bytes.begin(), s.bytes.end());
        offset += s.bytes.size();
    }
    return file;
}

std::vector<uint8_t> good_elf() {
    return make_elf(kLink + 0x10, {{kLink,
                                    {0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
                                     0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0xF4},
                                    0x1000,
                                    5},
                                   {kLink + 0x2000, {1, 2, 3, 4}, 0x3000, 6}});
}

uint64_t u64(const std::vector<uint8_t>& region, uint64_t offset) {
    uint64_t value;
    std::memcpy(&value, region.data() + offset, 8);
    return value;
}

TEST(MgmtHostRegion, LayoutFollowsTheContract) {
    std::vector<uint8_t> region(kRegion, 0xCC); // not zeroed: .bss must be cleared anyway
    std::memset(region.data(), 0, 2 << 20);
    const std::vector<uint8_t> elf = good_elf();
    RegionFacts facts;
    facts.tsc_hz = 2'600'000'000;
    facts.core_entry_tsc = 12345;
    facts.host_memory_bytes = 1ull << 30;
    facts.logical_processors = 2;
    facts.virtualization = "svm";
    facts.nic_present = true;
    facts.nic_device = 3;
    facts.restarts = 2;
    facts.crash_test = 1;
    const std::string_view config = "[management]\npartition = yes\n";
    auto built = build_region(region, kBase, elf, config, facts);
    ASSERT_FALSE(built.is_error()) << built.error().message();
    const RegionEntry entry = built.value();
    EXPECT_EQ(entry.rip, kLink + 0x10);
    EXPECT_EQ(entry.rsp, kBase + (2 << 20));
    EXPECT_EQ(entry.rdi, kBase);
    EXPECT_EQ(entry.cr3, kBase + 0x1000);
    EXPECT_EQ(entry.image_span, 0x5000u);

    mgmt::partition::MgmtBootInfo info;
    std::memcpy(&info, region.data(), sizeof(info));
    EXPECT_EQ(info.magic, mgmt::partition::kBootInfoMagic);
    EXPECT_EQ(info.version, 1u);
    EXPECT_EQ(info.size, sizeof(info));
    EXPECT_EQ(info.region_base, kBase);
    EXPECT_EQ(info.region_size, kRegion);
    EXPECT_EQ(info.config_text, kBase + (2 << 20) + 0x5000);
    EXPECT_EQ(info.config_length, config.size());
    EXPECT_EQ(info.free_base, kBase + (2 << 20) + 0x6000);
    EXPECT_STREQ(info.virtualization, "svm");
    EXPECT_EQ(info.nic_present, 1);
    EXPECT_EQ(info.nic_device, 3);
    EXPECT_EQ(info.restarts, 2u);
    EXPECT_EQ(info.crash_test, 1u);
    EXPECT_EQ(info.tsc_hz, 2'600'000'000u);
    EXPECT_EQ(std::memcmp(region.data() + (info.config_text - kBase), config.data(), config.size()),
              0);

    // The image: text, data, zeroed .bss up to the segment's memory size.
    EXPECT_EQ(region[(2 << 20) + 0x10], 0xF4);
    EXPECT_EQ(region[(2 << 20) + 0x2000 + 3], 4);
    EXPECT_EQ(region[(2 << 20) + 0x2000 + 4], 0);
    EXPECT_EQ(region[(2 << 20) + 0x4FFF], 0);

    // Page tables: PML4[0] and the direct-map slot share the identity PDPT (1 GiB pages);
    // PML4[511] -> PDPT[510] -> PD of 2 MiB pages from R + 2 MiB.
    const uint64_t pml4 = 0x1000, direct_slot = (handoff::kDirectMapBase >> 39) & 0x1FF;
    EXPECT_EQ(u64(region, pml4), (kBase + 0x2000) | 3);
    EXPECT_EQ(u64(region, pml4 + direct_slot * 8), (kBase + 0x2000) | 3);
    EXPECT_EQ(u64(region, pml4 + 511 * 8), (kBase + 0x3000) | 3);
    EXPECT_EQ(u64(region, pml4 + 1 * 8), 0u);
    EXPECT_EQ(u64(region, 0x2000 + 5 * 8), (5ull << 30) | 0x83);
    EXPECT_EQ(u64(region, 0x3000 + 510 * 8), (kBase + 0x4000) | 3);
    EXPECT_EQ(u64(region, 0x4000), (kBase + (2 << 20)) | 0x83);
    EXPECT_EQ(u64(region, 0x4000 + 8), (kBase + (4 << 20)) | 0x83);
    // GDT: null, 64-bit code, data.
    EXPECT_EQ(u64(region, 0x5000), 0u);
    EXPECT_EQ(u64(region, 0x5008), 0x00AF'9B00'0000'FFFFull);
    EXPECT_EQ(u64(region, 0x5010), 0x00CF'9300'0000'FFFFull);
}

TEST(MgmtHostRegion, HighDeviceMemoryGetsItsOwnGigabytes) {
    std::vector<uint8_t> region(kRegion, 0);
    RegionFacts facts;
    facts.device_ranges[0] = {0xC000'1000, 0x1000};         // below 512 GiB: mapped already
    facts.device_ranges[1] = {0xE0'0000'0000ull, 0x4000};   // 896 GiB (OVMF's 64-bit BARs)
    facts.device_ranges[2] = {0x3FFF'FFFF'F000ull, 0x2000}; // straddles 2 gigabytes
    facts.device_range_count = 3;
    ASSERT_FALSE(build_region(region, kBase, good_elf(), "", facts).is_error());
    // PML4[1] (512 GiB .. 1 TiB) -> a PDPT at R + 0x6000 with only gigabyte 896 mapped: the
    // partition's crash test touches 512 GiB, which must stay unmapped.
    EXPECT_EQ(u64(region, 0x1000 + 8), (kBase + 0x6000) | 3);
    EXPECT_EQ(u64(region, 0x6000 + (896 - 512) * 8), (896ull << 30) | 0x83);
    EXPECT_EQ(u64(region, 0x6000), 0u);
    const uint64_t slot = 0x3FFF'FFFF'F000ull >> 39;
    EXPECT_EQ(u64(region, 0x1000 + slot * 8), (kBase + 0x7000) | 3);
    const uint64_t gib = 0x3FFF'FFFF'F000ull >> 30;
    EXPECT_EQ(u64(region, 0x7000 + (gib % 512) * 8), (gib << 30) | 0x83);
    EXPECT_EQ(u64(region, 0x1000 + (slot + 1) * 8), (kBase + 0x8000) | 3);
    EXPECT_EQ(u64(region, 0x8000), ((gib + 1) << 30) | 0x83);

    RegionFacts beyond;
    beyond.device_ranges[0] = {1ull << 47, 0x1000};
    beyond.device_range_count = 1;
    EXPECT_TRUE(build_region(region, kBase, good_elf(), "", beyond).is_error());
}

TEST(MgmtHostRegion, BadImagesAreRefusedWithAReason) {
    std::vector<uint8_t> region(kRegion, 0);
    const RegionFacts facts;
    auto refused = [&](const std::vector<uint8_t>& elf, const char* fragment) {
        std::vector<uint8_t> before = region;
        auto built = build_region(region, kBase, elf, "", facts);
        ASSERT_TRUE(built.is_error()) << fragment;
        EXPECT_NE(std::strstr(built.error().message(), fragment), nullptr)
            << built.error().message();
        EXPECT_EQ(region, before) << "a refused image wrote into the region";
    };
    refused({}, "shorter than its header");
    std::vector<uint8_t> garbage(4096, 0x5A);
    refused(garbage, "bad magic");
    std::vector<uint8_t> truncated = good_elf();
    truncated.resize(100);
    refused(truncated, "outside the file");
    refused(make_elf(kLink, {}), "no loadable segment");
    refused(make_elf(0x10'0000, {{0x10'0000, {0xF4}, 0x1000, 5}}), "outside 0xffffffff80000000");
    refused(make_elf(kLink, {{kLink, {0xF4}, 17ull << 20, 7}}), "outside 0xffffffff80000000");
    refused(make_elf(kLink + 0x5000, {{kLink, {0xF4}, 0x1000, 5}}), "entry point");
    refused(make_elf(kLink, {{kLink, {0xF4}, 0x1000, 6}}), "entry point"); // not executable
    std::vector<uint8_t> small(3 << 20, 0);
    auto too_small = build_region(small, kBase, good_elf(), std::string(1 << 20, 'x'), facts);
    EXPECT_TRUE(too_small.is_error());
    EXPECT_TRUE(build_region(region, kBase + 4096, good_elf(), "", facts).is_error());
}

} // namespace
} // namespace halcyon::mgmt_host
