#include "boot/uefi/memory_map.hpp"

#include "boot/uefi/efi/memory.hpp"

namespace halcyon::loader {

using handoff::MemoryRegion;
using handoff::MemoryType;

namespace {

[[nodiscard]] efi::MemoryDescriptor descriptor_at(std::span<const uint8_t> map,
                                                  size_t descriptor_size, size_t index) {
    efi::MemoryDescriptor descriptor;
    __builtin_memcpy(&descriptor, map.data() + index * descriptor_size, sizeof(descriptor));
    return descriptor;
}

[[nodiscard]] uint64_t region_end(const MemoryRegion& region) {
    return region.physical_base + region.page_count * efi::kPageSize;
}

} // namespace

MemoryType classify_efi_memory_type(uint32_t efi_type) {
    switch (efi_type) {
    case handoff::kEfiTypeCoreImage:
        return MemoryType::core_image;
    case handoff::kEfiTypeBootModule:
        return MemoryType::boot_module;
    case handoff::kEfiTypeBootData:
        return MemoryType::boot_data;
    default:
        break;
    }
    if (efi_type > static_cast<uint32_t>(efi::MemoryType::unaccepted))
        return MemoryType::reserved; // someone else's OEM/OS type: not ours to reuse
    switch (static_cast<efi::MemoryType>(efi_type)) {
    // Once the core runs, the loader and boot services are gone: their memory is free.
    case efi::MemoryType::loader_code:
    case efi::MemoryType::loader_data:
    case efi::MemoryType::boot_services_code:
    case efi::MemoryType::boot_services_data:
    case efi::MemoryType::conventional:
        return MemoryType::usable;
    case efi::MemoryType::runtime_services_code:
    case efi::MemoryType::runtime_services_data:
        return MemoryType::firmware_runtime;
    case efi::MemoryType::unusable:
        return MemoryType::unusable;
    case efi::MemoryType::acpi_reclaim:
        return MemoryType::acpi_reclaimable;
    case efi::MemoryType::acpi_nvs:
        return MemoryType::acpi_nvs;
    case efi::MemoryType::mmio:
    case efi::MemoryType::mmio_port_space:
        return MemoryType::mmio;
    case efi::MemoryType::persistent:
        return MemoryType::persistent;
    // Unaccepted memory (confidential VMs) cannot be touched until accepted; PAL code is
    // Itanium-only. Neither is anything the core may use.
    case efi::MemoryType::reserved:
    case efi::MemoryType::pal_code:
    case efi::MemoryType::unaccepted:
        return MemoryType::reserved;
    }
    return MemoryType::reserved;
}

ErrorOr<size_t> normalize_memory_map(std::span<const uint8_t> map, size_t descriptor_size,
                                     std::span<MemoryRegion> out) {
    if (descriptor_size < sizeof(efi::MemoryDescriptor))
        return Error(ErrorCode::invalid_argument, "memory map descriptor size is too small");
    size_t descriptor_count = map.size() / descriptor_size;

    // 1. Classify, dropping empty descriptors, into `out` in firmware order.
    size_t count = 0;
    for (size_t i = 0; i < descriptor_count; ++i) {
        auto descriptor = descriptor_at(map, descriptor_size, i);
        if (descriptor.page_count == 0)
            continue;
        if (descriptor.physical_start % efi::kPageSize != 0)
            return Error(ErrorCode::corrupt, "memory map region is not page aligned");
        uint64_t limit_pages = (~0ull - descriptor.physical_start) / efi::kPageSize;
        if (descriptor.page_count > limit_pages)
            return Error(ErrorCode::corrupt, "memory map region wraps around the address space");
        if (count == out.size())
            return Error(ErrorCode::out_of_range, "memory map has more regions than expected");
        out[count++] = MemoryRegion{
            .physical_base = descriptor.physical_start,
            .page_count = descriptor.page_count,
            .type = classify_efi_memory_type(descriptor.type),
            .efi_type = descriptor.type,
            .efi_attributes = descriptor.attribute,
        };
    }

    // 2. Sort by base. Insertion sort: maps are small (tens to a few hundred entries) and are
    //    usually almost sorted already, and it needs no memory.
    for (size_t i = 1; i < count; ++i) {
        MemoryRegion region = out[i];
        size_t j = i;
        for (; j > 0 && out[j - 1].physical_base > region.physical_base; --j)
            out[j] = out[j - 1];
        out[j] = region;
    }

    // 3. Reject overlaps (the core must never see one page with two meanings) and merge
    //    contiguous neighbours of the same type and caching attributes. The merged region keeps
    //    the first one's efi_type, which is only diagnostic.
    size_t merged = 0;
    for (size_t i = 0; i < count; ++i) {
        if (merged > 0) {
            MemoryRegion& previous = out[merged - 1];
            if (out[i].physical_base < region_end(previous))
                return Error(ErrorCode::corrupt, "memory map regions overlap");
            if (out[i].physical_base == region_end(previous) && out[i].type == previous.type &&
                out[i].efi_attributes == previous.efi_attributes) {
                previous.page_count += out[i].page_count;
                continue;
            }
        }
        out[merged++] = out[i];
    }
    return merged;
}

uint64_t highest_memory_map_address(std::span<const uint8_t> map, size_t descriptor_size) {
    if (descriptor_size < sizeof(efi::MemoryDescriptor))
        return 0;
    uint64_t highest = 0;
    for (size_t i = 0; i < map.size() / descriptor_size; ++i) {
        auto descriptor = descriptor_at(map, descriptor_size, i);
        if (descriptor.page_count > (~0ull - descriptor.physical_start) / efi::kPageSize)
            continue; // wraps: normalize_memory_map() rejects the map anyway
        uint64_t end = descriptor.physical_start + descriptor.page_count * efi::kPageSize;
        if (end > highest)
            highest = end;
    }
    return highest;
}

} // namespace halcyon::loader
