#include "boot/multiboot2/bios_memory_map.hpp"

#include "boot/multiboot2/multiboot2.hpp"

namespace halcyon::multiboot2 {

using handoff::MemoryRegion;
using handoff::MemoryType;

namespace {

struct Span {
    uint64_t base;
    uint64_t end;
};

constexpr uint64_t kPageMask = kPageSize - 1;

// Rounds up to a page, saturating at the last page boundary instead of wrapping to 0.
[[nodiscard]] uint64_t page_round_up(uint64_t value) {
    return value > ~kPageMask ? ~kPageMask : (value + kPageMask) & ~kPageMask;
}

// Firmware entries rounded to pages: usable memory inward (a partial page is not usable),
// everything else outward (a partial page of ACPI data or MMIO must not be handed out).
[[nodiscard]] Span page_span(const FirmwareRegion& region) {
    uint64_t end = region.length > ~0ull - region.base ? ~0ull : region.base + region.length;
    if (classify_bios_memory_type(region.type) == MemoryType::usable)
        return {page_round_up(region.base), end & ~kPageMask};
    return {region.base & ~kPageMask, page_round_up(end)};
}

// Where regions of different types overlap, the higher rank wins.
[[nodiscard]] int rank(MemoryType type) {
    switch (type) {
    case MemoryType::usable:
        return 0;
    case MemoryType::acpi_reclaimable:
        return 1;
    case MemoryType::persistent:
        return 2;
    case MemoryType::acpi_nvs:
        return 3;
    case MemoryType::reserved:
        return 4;
    default: // unusable (bad RAM)
        return 5;
    }
}

void sort_unique(std::span<uint64_t> points, size_t& count) {
    // Insertion sort: maps are small (tens of entries) and need no memory.
    for (size_t i = 1; i < count; ++i) {
        uint64_t value = points[i];
        size_t j = i;
        for (; j > 0 && points[j - 1] > value; --j)
            points[j] = points[j - 1];
        points[j] = value;
    }
    size_t unique = 0;
    for (size_t i = 0; i < count; ++i) {
        if (unique == 0 || points[unique - 1] != points[i])
            points[unique++] = points[i];
    }
    count = unique;
}

} // namespace

MemoryType classify_bios_memory_type(uint32_t type) {
    switch (type) {
    case kMemoryAvailable:
        return MemoryType::usable;
    case kMemoryAcpiReclaimable:
        return MemoryType::acpi_reclaimable;
    case kMemoryAcpiNvs:
        return MemoryType::acpi_nvs;
    case kMemoryBad:
        return MemoryType::unusable;
    case kMemoryPersistent:
    case kMemoryPersistentLegacy:
        return MemoryType::persistent;
    default:
        return MemoryType::reserved;
    }
}

ErrorOr<size_t> build_memory_map(std::span<const FirmwareRegion> firmware,
                                 std::span<const Claim> claims, std::span<uint64_t> scratch,
                                 std::span<MemoryRegion> out) {
    if (scratch.size() < memory_map_scratch_size(firmware.size(), claims.size()))
        return Error(ErrorCode::out_of_range, "memory map scratch space is too small");

    // 1. Every boundary of every region and claim. Between two neighbouring boundaries each
    //    region and each claim either covers the whole piece or none of it.
    size_t point_count = 0;
    for (const FirmwareRegion& region : firmware) {
        Span span = page_span(region);
        if (span.base >= span.end)
            continue;
        scratch[point_count++] = span.base;
        scratch[point_count++] = span.end;
    }
    for (const Claim& claim : claims) {
        if (claim.base % kPageSize != 0 || claim.size % kPageSize != 0 || claim.size == 0 ||
            claim.size > ~0ull - claim.base)
            return Error(ErrorCode::invalid_argument, "boot allocation is not whole pages");
        scratch[point_count++] = claim.base;
        scratch[point_count++] = claim.base + claim.size;
    }
    sort_unique(scratch, point_count);

    // 2. Decide each piece, appending it to `out` or merging it into the last region.
    size_t count = 0;
    for (size_t p = 0; p + 1 < point_count; ++p) {
        const uint64_t base = scratch[p];
        const uint64_t end = scratch[p + 1];
        bool in_firmware = false;
        MemoryType firmware_type = MemoryType::usable;
        uint32_t firmware_code = 0;
        for (const FirmwareRegion& region : firmware) {
            Span span = page_span(region);
            if (span.base >= span.end || span.base > base || span.end < end)
                continue;
            MemoryType type = classify_bios_memory_type(region.type);
            if (!in_firmware || rank(type) > rank(firmware_type)) {
                firmware_type = type;
                firmware_code = region.type;
            }
            in_firmware = true;
        }
        const Claim* owner = nullptr;
        for (const Claim& claim : claims) {
            if (claim.base > base || claim.base + claim.size < end)
                continue;
            if (owner != nullptr)
                return Error(ErrorCode::corrupt, "two boot allocations overlap");
            owner = &claim;
        }
        if (owner != nullptr && (!in_firmware || firmware_type != MemoryType::usable))
            return Error(ErrorCode::corrupt,
                         "a boot allocation lies outside the memory the firmware calls usable");
        if (!in_firmware)
            continue; // a hole in the firmware's map: not memory

        MemoryType type = owner != nullptr ? owner->type : firmware_type;
        uint32_t code = owner != nullptr ? owner->efi_type : firmware_code;
        if (count > 0) {
            MemoryRegion& previous = out[count - 1];
            if (previous.type == type &&
                previous.physical_base + previous.page_count * kPageSize == base) {
                previous.page_count += (end - base) / kPageSize;
                continue;
            }
        }
        if (count == out.size())
            return Error(ErrorCode::out_of_range, "memory map has more regions than expected");
        out[count++] = MemoryRegion{
            .physical_base = base,
            .page_count = (end - base) / kPageSize,
            .type = type,
            .efi_type = code,
            .efi_attributes = 0,
        };
    }
    return count;
}

} // namespace halcyon::multiboot2
