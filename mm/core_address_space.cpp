#include "mm/core_address_space.hpp"

#include "mm/page_table_policies.hpp"

namespace halcyon::mm {

namespace {

// The direct map spans the lower half of the upper canonical half (64 TiB); the core image
// window at kCoreVirtualBase sits far above it.
constexpr uint64_t kDirectMapLimit = 1ULL << 46;
constexpr uint64_t kIdentityLimit = 1ULL << 47; // lower canonical half

constexpr Attributes kDirectMapMemory{true, false, false, CacheMode::write_back};

Attributes direct_map_attributes(handoff::MemoryType type) {
    Attributes attributes = kDirectMapMemory;
    if (type == handoff::MemoryType::mmio)
        attributes.cache = CacheMode::uncached;
    return attributes;
}

// Memory the firmware's MTRRs type as write-back RAM. Only such regions are merged with their
// neighbours: a large page must not span two MTRR memory types (the SDM leaves that undefined),
// and reserved/MMIO ranges are where uncached MTRR ranges live.
bool is_ram(handoff::MemoryType type) {
    using handoff::MemoryType;
    switch (type) {
    case MemoryType::usable:
    case MemoryType::acpi_reclaimable:
    case MemoryType::acpi_nvs:
    case MemoryType::firmware_runtime:
    case MemoryType::core_image:
    case MemoryType::boot_module:
    case MemoryType::boot_data:
        return true;
    default:
        return false;
    }
}

bool is_page_aligned(uint64_t value) {
    return value % kPageSize == 0;
}

ErrorOr<void> check_sections(const CoreSections& s) {
    const uint64_t values[] = {s.text_start, s.text_end, s.rodata_start, s.rodata_end,
                               s.data_start, s.data_end, s.physical_base};
    for (uint64_t value : values) {
        if (!is_page_aligned(value))
            return Error(ErrorCode::invalid_argument, "core sections are not page aligned");
    }
    if (s.text_start < handoff::kCoreVirtualBase || s.text_start >= s.text_end ||
        s.text_end > s.rodata_start || s.rodata_start > s.rodata_end ||
        s.rodata_end > s.data_start || s.data_start > s.data_end)
        return Error(ErrorCode::invalid_argument,
                     "core sections are not ordered text <= rodata <= data above kCoreVirtualBase");
    return {};
}

// Maps one section of the core image (nothing for an empty one).
ErrorOr<void> map_section(X86PageTable& table, const CoreSections& s, uint64_t start, uint64_t end,
                          Attributes attributes) {
    if (start == end)
        return {};
    return table.map(start, s.physical_base + (start - handoff::kCoreVirtualBase), end - start,
                     attributes);
}

ErrorOr<void> map_direct(X86PageTable& table, uint64_t physical, uint64_t size,
                         Attributes attributes) {
    if (size == 0)
        return {};
    if (physical >= kDirectMapLimit || size > kDirectMapLimit - physical)
        return Error(ErrorCode::out_of_range, "physical memory beyond the direct map's 64 TiB");
    return table.map(handoff::kDirectMapBase + physical, physical, size, attributes);
}

// Maps [start, end) of the memory map into the direct map, split at the 1 MiB line so that no
// large page covers the legacy area.
ErrorOr<void> map_run(X86PageTable& table, uint64_t start, uint64_t end, Attributes attributes) {
    if (start < kLowMemoryLimit && end > kLowMemoryLimit) {
        TRY(map_direct(table, start, kLowMemoryLimit - start, attributes));
        start = kLowMemoryLimit;
    }
    return map_direct(table, start, end - start, attributes);
}

// Maps the memory map into the direct map, merging neighbouring RAM regions so that large pages
// can span region boundaries (the map is sorted by the loader). Nothing is merged across the
// 1 MiB line: the legacy area has fixed-range MTRRs of mixed types, so it gets 4 KiB pages.
ErrorOr<void> map_memory_map(X86PageTable& table, std::span<const handoff::MemoryRegion> map) {
    uint64_t run_start = 0;
    uint64_t run_end = 0;
    Attributes run_attributes{};
    bool run_is_ram = false;
    for (const auto& region : map) {
        if (region.page_count == 0)
            continue;
        if (!is_page_aligned(region.physical_base))
            return Error(ErrorCode::invalid_argument, "memory region is not page aligned");
        if (region.page_count > (kDirectMapLimit >> kPageShift))
            return Error(ErrorCode::out_of_range, "memory region beyond the direct map's 64 TiB");
        const uint64_t start = region.physical_base;
        const uint64_t end = start + region.page_count * kPageSize;
        const Attributes attributes = direct_map_attributes(region.type);
        const bool ram = is_ram(region.type);
        if (run_end != run_start && start == run_end && ram && run_is_ram &&
            attributes == run_attributes) {
            run_end = end;
            continue;
        }
        TRY(map_run(table, run_start, run_end, run_attributes));
        run_start = start;
        run_end = end;
        run_attributes = attributes;
        run_is_ram = ram;
    }
    return map_run(table, run_start, run_end, run_attributes);
}

ErrorOr<void> populate(X86PageTable& table, const CoreAddressSpaceRequest& request) {
    TRY(map_memory_map(table, request.memory_map));

    for (const DeviceRange& device : request.device_ranges) {
        if (device.size == 0)
            continue;
        const uint64_t start = device.physical_base & ~(kPageSize - 1);
        const uint64_t end =
            (device.physical_base + device.size + kPageSize - 1) & ~(kPageSize - 1);
        if (end <= start)
            return Error(ErrorCode::out_of_range, "device range wraps around");
        TRY(map_direct(table, start, end - start, Attributes{true, false, false, device.cache}));
    }

    const CoreSections& s = request.sections;
    TRY(map_section(table, s, s.text_start, s.text_end, kReadExecute));
    TRY(map_section(table, s, s.rodata_start, s.rodata_end, kReadOnly));
    TRY(map_section(table, s, s.data_start, s.data_end, kReadWrite));

    for (const IdentityRange& identity : request.identity_ranges) {
        if (identity.attributes.writable && identity.attributes.executable)
            return Error(ErrorCode::permission, "identity range would be writable and executable");
        if (!is_page_aligned(identity.physical_base) || !is_page_aligned(identity.size))
            return Error(ErrorCode::invalid_argument, "identity range is not page aligned");
        if (identity.physical_base >= kIdentityLimit ||
            identity.size > kIdentityLimit - identity.physical_base)
            return Error(ErrorCode::out_of_range, "identity range is not in the lower half");
        TRY(table.map(identity.physical_base, identity.physical_base, identity.size,
                      identity.attributes));
    }
    return {};
}

} // namespace

ErrorOr<uint64_t> build_core_address_space(const CoreAddressSpaceRequest& request,
                                           FrameAllocator& frames, PhysicalWindow window) {
    TRY(check_sections(request.sections));
    auto table = TRY(X86PageTable::create(
        WindowTableMemory(window), FrameTableAllocator(frames, window), request.large_pages));
    auto result = populate(table, request);
    if (result.is_error()) {
        table.destroy(); // give every table back; the caller keeps the loader's tables
        return result.release_error();
    }
    return table.root();
}

} // namespace halcyon::mm
