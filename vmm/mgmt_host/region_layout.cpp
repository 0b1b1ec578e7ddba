#include "vmm/mgmt_host/region_layout.hpp"

#include "boot/handoff/handoff.hpp"
#include "lib/elf/elf_image.hpp"
#include "mgmt/partition/abi/boot_info.hpp"

#include <string.h>

namespace halcyon::mgmt_host {
namespace {

using mgmt::partition::kImageLinkBase;
using mgmt::partition::kImageMaxSpan;
using mgmt::partition::kImageOffset;

constexpr uint64_t kPresent = 1ull << 0, kWritable = 1ull << 1, kLargePage = 1ull << 7;
constexpr uint64_t kPage = 4096;
constexpr uint64_t kGiB = 1ull << 30, kTwoMiB = 2ull << 20;
// Flat descriptors (hardware encoding): 64-bit code, DPL 0; read/write data.
constexpr uint64_t kCode64Descriptor = 0x00AF'9B00'0000'FFFFull;
constexpr uint64_t kDataDescriptor = 0x00CF'9300'0000'FFFFull;

uint64_t align_up(uint64_t value, uint64_t alignment) {
    return (value + alignment - 1) & ~(alignment - 1);
}

void put_u64(std::span<uint8_t> region, uint64_t offset, uint64_t value) {
    memcpy(region.data() + offset, &value, sizeof(value));
}

uint64_t get_u64(std::span<uint8_t> region, uint64_t offset) {
    uint64_t value;
    memcpy(&value, region.data() + offset, sizeof(value));
    return value;
}

// Identity 1 GiB pages for device memory above the 512 GiB map: one PDPT per PML4 slot it
// touches, taken from the tables' area after the GDT.
ErrorOr<void> map_high_devices(std::span<uint8_t> region, uint64_t base, const RegionFacts& facts) {
    uint64_t next_table = kExtraTablesOffset;
    for (uint32_t i = 0; i < facts.device_range_count; ++i) {
        const RegionFacts::Range range = facts.device_ranges[i];
        if (range.size == 0 || range.base + range.size < range.base ||
            range.base + range.size > kCanonicalLimit)
            return Error(ErrorCode::out_of_range,
                         "NIC registers beyond the partition's 47-bit address space");
        if (range.base + range.size <= 512 * kGiB)
            continue; // in the identity map already
        for (uint64_t gib = range.base / kGiB; gib <= (range.base + range.size - 1) / kGiB; ++gib) {
            const uint64_t slot = gib / 512;
            uint64_t pdpt = get_u64(region, kPml4Offset + slot * 8);
            if (pdpt == 0) {
                if (next_table + kPage > kTablesEnd)
                    return Error(ErrorCode::out_of_range, "too many NIC register ranges");
                pdpt = (base + next_table) | kPresent | kWritable;
                put_u64(region, kPml4Offset + slot * 8, pdpt);
                next_table += kPage;
            }
            const uint64_t table = (pdpt & ~(kPage - 1)) - base;
            put_u64(region, table + (gib % 512) * 8,
                    (gib * kGiB) | kPresent | kWritable | kLargePage);
        }
    }
    return {};
}

void write_page_tables(std::span<uint8_t> region, uint64_t base) {
    const uint64_t table_flags = kPresent | kWritable;
    // PML4: slot 0 (VA 0 ..) and the direct-map slot share the identity PDPT; slot 511 holds
    // the image's window.
    const uint64_t direct_slot = (handoff::kDirectMapBase >> 39) & 0x1FF;
    put_u64(region, kPml4Offset + 0 * 8, (base + kLowPdptOffset) | table_flags);
    put_u64(region, kPml4Offset + direct_slot * 8, (base + kLowPdptOffset) | table_flags);
    put_u64(region, kPml4Offset + 511 * 8, (base + kHighPdptOffset) | table_flags);
    for (uint64_t i = 0; i < 512; ++i)
        put_u64(region, kLowPdptOffset + i * 8, (i * kGiB) | kPresent | kWritable | kLargePage);
    const uint64_t image_slot = (kImageLinkBase >> 30) & 0x1FF; // 510
    put_u64(region, kHighPdptOffset + image_slot * 8, (base + kImagePdOffset) | table_flags);
    for (uint64_t i = 0; i < 512; ++i)
        put_u64(region, kImagePdOffset + i * 8,
                (base + kImageOffset + i * kTwoMiB) | kPresent | kWritable | kLargePage);
    put_u64(region, kGdtOffset + 0, 0);
    put_u64(region, kGdtOffset + 8, kCode64Descriptor);
    put_u64(region, kGdtOffset + 16, kDataDescriptor);
}

} // namespace

ErrorOr<uint64_t> check_image(std::span<const uint8_t> elf) {
    const elf::Image image = TRY(elf::Image::parse(elf));
    if (image.load_segment_count() == 0)
        return Error(ErrorCode::corrupt, "the management image has no loadable segment");
    uint64_t span = 0;
    bool entry_found = false;
    for (size_t i = 0; i < image.load_segment_count(); ++i) {
        const elf::LoadSegment segment = image.load_segment(i);
        if (segment.virtual_address < kImageLinkBase ||
            segment.virtual_address - kImageLinkBase > kImageMaxSpan ||
            segment.memory_size > kImageMaxSpan - (segment.virtual_address - kImageLinkBase))
            return Error(ErrorCode::out_of_range,
                         "a management image segment lies outside 0xffffffff80000000 + 16 MiB");
        const uint64_t end = segment.virtual_address - kImageLinkBase + segment.memory_size;
        if (end > span)
            span = end;
        if (segment.executable && image.entry() >= segment.virtual_address &&
            image.entry() - segment.virtual_address < segment.memory_size)
            entry_found = true;
    }
    if (!entry_found)
        return Error(ErrorCode::corrupt,
                     "the management image's entry point is not in an executable segment");
    return span;
}

ErrorOr<RegionEntry> build_region(std::span<uint8_t> region, uint64_t base,
                                  std::span<const uint8_t> elf, std::string_view config_text,
                                  const RegionFacts& facts) {
    if (base % kTwoMiB != 0)
        return Error(ErrorCode::invalid_argument, "the management region is not 2 MiB aligned");
    const uint64_t span = TRY(check_image(elf));
    const uint64_t config_offset = align_up(kImageOffset + span, kPage);
    const uint64_t free_offset = align_up(config_offset + config_text.size(), kPage);
    if (free_offset + kPage > region.size())
        return Error(ErrorCode::out_of_range,
                     "the management region is too small for its image and configuration");

    const elf::Image image = TRY(elf::Image::parse(elf));
    for (size_t i = 0; i < image.load_segment_count(); ++i) {
        const elf::LoadSegment segment = image.load_segment(i);
        const uint64_t at = kImageOffset + (segment.virtual_address - kImageLinkBase);
        memcpy(region.data() + at, elf.data() + segment.file_offset, segment.file_size);
        memset(region.data() + at + segment.file_size, 0, segment.memory_size - segment.file_size);
    }
    memcpy(region.data() + config_offset, config_text.data(), config_text.size());
    write_page_tables(region, base);
    TRY(map_high_devices(region, base, facts));

    mgmt::partition::MgmtBootInfo info{};
    info.magic = mgmt::partition::kBootInfoMagic;
    info.version = mgmt::partition::kBootInfoVersion;
    info.size = sizeof(info);
    info.region_base = base;
    info.region_size = region.size();
    info.free_base = base + free_offset;
    info.tsc_hz = facts.tsc_hz;
    info.core_entry_tsc = facts.core_entry_tsc;
    info.host_memory_bytes = facts.host_memory_bytes;
    info.logical_processors = facts.logical_processors;
    for (size_t i = 0; i + 1 < sizeof(info.virtualization) && facts.virtualization[i] != '\0'; ++i)
        info.virtualization[i] = facts.virtualization[i];
    info.config_text = base + config_offset;
    info.config_length = config_text.size();
    info.nic_segment = facts.nic_segment;
    info.nic_bus = facts.nic_bus;
    info.nic_device = facts.nic_device;
    info.nic_function = facts.nic_function;
    info.nic_present = facts.nic_present ? 1 : 0;
    info.restarts = facts.restarts;
    info.crash_test = facts.crash_test;
    memcpy(region.data() + mgmt::partition::kBootInfoOffset, &info, sizeof(info));

    RegionEntry entry;
    entry.rip = image.entry();
    entry.rsp = base + kImageOffset;
    entry.rdi = base + mgmt::partition::kBootInfoOffset;
    entry.cr3 = base + kPml4Offset;
    entry.gdt_base = base + kGdtOffset;
    entry.image_span = span;
    entry.free_base = base + free_offset;
    return entry;
}

} // namespace halcyon::mgmt_host
